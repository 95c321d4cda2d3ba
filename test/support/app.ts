import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { expect } from "vitest";
import { createApp } from "../../src/app.ts";
import { createMetrics } from "../../src/http/metrics.ts";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import type { Store } from "../../src/store/types.ts";

export const API_KEY = "acme-key-0123456789abcdef";
export const OTHER_KEY = "globex-key-0123456789abcdef";
export const TOKEN_SECRET = "test-secret-that-is-at-least-32-bytes-long!!";

export type TestApp = Awaited<ReturnType<typeof buildTestApp>>;

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies field by field and assert every field they use.
type Json = any;
export type TestResponse = { status: number; headers: Headers; body: Json; text: string };

/**
 * Builds the real app on a real store (a temp SQLite file unless one is given), with two tenants:
 * acme (API_KEY) and globex (OTHER_KEY). `call` sends a request through app.request().
 */
export async function buildTestApp(
  options: { store?: Store; feedMax?: number; bodyLimit?: number; instanceId?: string; now?: () => number } = {},
) {
  const dir = options.store ? null : mkdtempSync(join(tmpdir(), "herald-http-"));
  const store = options.store ?? openSqliteStore({ path: join(dir as string, "herald.db"), feedMax: options.feedMax ?? 1000 });
  let accepting = true;
  const app = createApp({
    store,
    config: {
      apiKeys: new Map([
        [API_KEY, "acme"],
        [OTHER_KEY, "globex"],
      ]),
      tokenSecret: TOKEN_SECRET,
      tokenTtlS: 3600,
      bodyLimit: options.bodyLimit ?? 64 * 1024,
    },
    logger: pino({ level: "silent" }),
    metrics: createMetrics({ defaults: false }),
    instanceId: options.instanceId ?? "test-instance",
    accepting: () => accepting,
    now: options.now,
  });

  async function call(
    method: string,
    path: string,
    init: { key?: string | null; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<TestResponse> {
    const headers: Record<string, string> = { ...init.headers };
    const key = init.key === undefined ? API_KEY : init.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let body: string | undefined;
    if (init.body !== undefined) {
      body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
      headers["content-type"] ??= "application/json";
    }
    const res = await app.request(path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {}
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  return {
    app,
    store,
    call,
    setAccepting: (value: boolean) => {
      accepting = value;
    },
    async close() {
      if (dir) {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Asserts a status and prints the whole response when it differs. */
export function expectStatus(res: { status: number; text: string; headers: Headers }, status: number): void {
  expect(res.status, `expected ${status}, got ${res.status}: ${res.text}`).toBe(status);
}

/** Asserts an RFC 9457 problem with the given status. */
export function expectProblem(res: TestResponse, status: number): void {
  expectStatus(res, status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(res.body, res.text).toMatchObject({
    status,
    type: expect.stringMatching(/^urn:herald:problem:/),
    title: expect.any(String),
    detail: expect.any(String),
    requestId: expect.any(String),
  });
}
