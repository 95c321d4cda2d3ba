import { createServer } from "node:net";
import { Agent, request } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { type HeraldProcess, startHerald } from "../support/herald.ts";

const KEY = "acme-key-0123456789abcdef";
const url = process.env.HERALD_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
let herald: HeraldProcess | undefined;
afterAll(() => {
  herald?.child.kill("SIGKILL");
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** A request on a fresh connection, so the primary hands it to the next worker. */
async function fresh(base: string, path: string, init: { method?: "GET" | "POST"; body?: string } = {}) {
  const dispatcher = new Agent({ pipelining: 0, connectTimeout: 2000, headersTimeout: 2000, bodyTimeout: 2000 });
  try {
    const res = await request(`${base}${path}`, {
      method: init.method ?? "GET",
      body: init.body,
      dispatcher,
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    });
    return { status: res.statusCode, instance: String(res.headers["x-herald-instance"]), text: await res.body.text() };
  } finally {
    await dispatcher.close();
  }
}

describe("HERALD_WORKERS: every core of one host", () => {
  it("spreads requests over workers, aggregates metrics, replaces a dead worker and drains on SIGTERM", { timeout: 60_000 }, async () => {
    const port = await freePort();
    herald = await startHerald(
      {
        PORT: String(port),
        HERALD_WORKERS: "2",
        HERALD_STORE_URL: url,
        HERALD_API_KEYS: `acme:${KEY}`,
        HERALD_TOKEN_SECRET: "x".repeat(32),
      },
      15_000,
      2,
    );
    const base = `http://127.0.0.1:${port}`;
    const instances = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const res = await fresh(base, "/v1/users/workers-test/notifications/counts");
      expect(res.status, res.text).toBe(200);
      instances.add(res.instance);
    }
    expect(instances.size, [...instances].join(", ")).toBe(2);

    const metrics = await fresh(base, "/metrics");
    const match = /herald_http_requests_total\{method="GET",route="\/v1\/users\/:userId\/notifications\/counts",status="200"\} (\d+)/.exec(
      metrics.text,
    );
    expect(Number(match?.[1]), "the sum over both workers").toBe(20);

    // SIGKILL one worker: the primary starts another, and the port keeps answering.
    const victim = Number([...instances][0]?.split("-").pop());
    process.kill(victim, "SIGKILL");
    const seen = new Set<string>();
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && seen.size < 2) {
      const res = await fresh(base, "/v1/users/workers-test/notifications/counts").catch(() => null);
      if (res?.status === 200 && !instances.has(res.instance)) seen.add(res.instance);
      if (res?.status === 200) seen.add(res.instance);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(
      [...seen].some((id) => !instances.has(id)),
      `a replacement worker answers: ${[...seen]}`,
    ).toBe(true);

    herald.child.kill("SIGTERM");
    expect(await herald.exited, herald.output()).toBe(0);
  });
});
