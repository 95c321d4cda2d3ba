import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import { startHerald } from "../support/herald.ts";

const KEY = "acme-key-0123456789abcdef";
const dir = mkdtempSync(join(tmpdir(), "herald-shutdown-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("graceful shutdown on a real socket", () => {
  it("answers every request already sent when SIGTERM arrives mid-load, loses no acknowledged write, and exits 0", async () => {
    const herald = await startHerald({
      HERALD_STORE_URL: `sqlite:${join(dir, "h.db")}`,
      HERALD_API_KEYS: `acme:${KEY}`,
      HERALD_TOKEN_SECRET: "x".repeat(32),
      HERALD_SHUTDOWN_TIMEOUT_MS: "8000",
    });
    const pool = new Pool(herald.url, { connections: 8, pipelining: 1 });
    const acknowledged: string[] = [];
    const failures: string[] = [];
    let closeAnswers = 0;
    let stop = false;

    // Eight keep-alive clients send 100-recipient notifications back to back.
    const clients = Array.from({ length: 8 }, async (_, c) => {
      for (let i = 0; !stop; i++) {
        try {
          const res = await pool.request({
            path: "/v1/notifications",
            method: "POST",
            headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
            body: JSON.stringify({ recipients: Array.from({ length: 100 }, (_, r) => `u${r}`), title: `c${c}-${i}` }),
          });
          const body = (await res.body.json()) as { id: string };
          if (res.statusCode !== 201) failures.push(`status ${res.statusCode}`);
          else acknowledged.push(body.id);
          if (res.headers.connection === "close") closeAnswers++;
        } catch (error) {
          const code = (error as { code?: string }).code ?? String(error);
          // Once the listener is closed, opening a new connection is refused: the request was never sent.
          if (code === "ECONNREFUSED") return;
          failures.push(code);
          return;
        }
      }
    });

    await new Promise((r) => setTimeout(r, 700));
    const before = acknowledged.length;
    herald.child.kill("SIGTERM");
    const exitCode = await herald.exited;
    stop = true;
    await Promise.all(clients);
    await pool.close();

    expect(failures, herald.output()).toEqual([]);
    expect(exitCode, herald.output()).toBe(0);
    expect(before).toBeGreaterThan(0);
    expect(acknowledged.length).toBeGreaterThan(before);
    expect(closeAnswers, "requests on open connections during the drain are answered with Connection: close").toBeGreaterThan(0);

    // Every acknowledged send is in the store after the process exited.
    const store = openSqliteStore({ path: join(dir, "h.db"), feedMax: 1000 });
    try {
      const page = await store.list(
        { tenant: "acme", user: "u7" },
        { limit: 100, before: null, status: "all", archived: "include", category: null },
        Date.now(),
      );
      expect(page.counts.total).toBe(Math.min(acknowledged.length, 1000));
    } finally {
      await store.close();
    }
  });
});
