import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRedisStore } from "../../src/store/redis/redis-store.ts";
import type { Store } from "../../src/store/types.ts";
import { buildTestApp, expectProblem, expectStatus, type TestApp } from "../support/app.ts";
import { type RedisServer, startRedis } from "../support/redis.ts";

/** Uses a Redis of its own, which it stops and restarts; never the shared one. */
let redis: RedisServer;
let store: Store;
let t: TestApp;

beforeAll(async () => {
  redis = await startRedis();
  store = await openRedisStore({ url: redis.url, feedMax: 1000, timeoutMs: 1000 });
  t = await buildTestApp({ store });
});
afterAll(async () => {
  await store?.close();
  await redis?.cleanup();
});

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await work();
  return { result, ms: performance.now() - start };
}

describe("store faults", () => {
  it("answers 503 with Retry-After within about a second while Redis is down, and recovers without a restart", async () => {
    expectStatus(await t.call("POST", "/v1/notifications", { body: { recipients: ["f1"], title: "before" } }), 201);

    await redis.kill();
    for (const [method, path, body] of [
      ["GET", "/v1/users/f1/notifications", undefined],
      ["GET", "/v1/users/f1/notifications/counts", undefined],
      ["POST", "/v1/notifications", { recipients: ["f1", "f2"], title: "during" }],
      ["POST", "/v1/users/f1/notifications/mark", { action: "read" }],
    ] as const) {
      const { result, ms } = await timed(() => t.call(method, path, { body }));
      expectProblem(result, 503);
      expect(result.headers.get("retry-after")).toBe("1");
      expect(ms, `${method} ${path} took ${ms} ms`).toBeLessThan(1500);
    }
    const ready = await timed(() => t.call("GET", "/readyz", { key: null }));
    expectStatus(ready.result, 503);
    expect(ready.ms).toBeLessThan(1500);
    expectStatus(await t.call("GET", "/livez", { key: null }), 200);

    await redis.start();
    const deadline = Date.now() + 5000;
    let res = await t.call("GET", "/v1/users/f1/notifications/counts");
    while (res.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      res = await t.call("GET", "/v1/users/f1/notifications/counts");
    }
    expectStatus(res, 200);
    expectStatus(await t.call("GET", "/readyz", { key: null }), 200);
    expectStatus(await t.call("POST", "/v1/notifications", { body: { recipients: ["f1"], title: "after" } }), 201);
  });

  it("answers 503 within about a second when Redis stops answering without closing the connection", async () => {
    process.kill(redis.pid as number, "SIGSTOP");
    try {
      const { result, ms } = await timed(() => t.call("GET", "/v1/users/f1/notifications"));
      expectProblem(result, 503);
      expect(ms).toBeLessThan(1500);
    } finally {
      process.kill(redis.pid as number, "SIGCONT");
    }
    const deadline = Date.now() + 5000;
    let res = await t.call("GET", "/v1/users/f1/notifications");
    while (res.status !== 200 && Date.now() < deadline) res = await t.call("GET", "/v1/users/f1/notifications");
    expectStatus(res, 200);
  });
});
