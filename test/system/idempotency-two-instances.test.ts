import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRedisStore } from "../../src/store/redis/redis-store.ts";
import type { Store } from "../../src/store/types.ts";
import { buildTestApp, expectProblem, expectStatus, type TestApp } from "../support/app.ts";

/**
 * Two Herald instances (two apps, two Redis connections) on one real Redis: the Idempotency-Key
 * holds across instances, including when the first instance dies half way through a send.
 */
const url = process.env.HERALD_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const stores: Store[] = [];
let a: TestApp;
let b: TestApp;

async function redisStore(): Promise<Store> {
  const store = await openRedisStore({ url, feedMax: 1000, timeoutMs: 1000 });
  stores.push(store);
  return store;
}

beforeAll(async () => {
  a = await buildTestApp({ store: await redisStore(), instanceId: "a" });
  b = await buildTestApp({ store: await redisStore(), instanceId: "b" });
});
afterAll(async () => {
  for (const store of stores) await store.close();
});

const prefix = () => `two-${randomUUID().slice(0, 8)}`;
const send = (app: TestApp, body: unknown, key: string) =>
  app.call("POST", "/v1/notifications", { body, headers: { "idempotency-key": key } });

async function feedIds(app: TestApp, user: string): Promise<string[]> {
  const res = await app.call("GET", `/v1/users/${user}/notifications?limit=100`);
  expectStatus(res, 200);
  return res.body.items.map((i: { id: string }) => i.id);
}

describe("idempotency across two instances on one Redis", () => {
  it("gives one 201 and one 409 for concurrent requests on different instances, then replays on either", async () => {
    const p = prefix();
    const body = { recipients: Array.from({ length: 1000 }, (_, i) => `${p}-${i}`), title: "concurrent" };
    const key = randomUUID();
    const [ra, rb] = await Promise.all([send(a, body, key), send(b, body, key)]);
    expect([ra.status, rb.status].sort(), `${ra.text} / ${rb.text}`).toEqual([201, 409]);
    const winner = ra.status === 201 ? ra : rb;
    for (const app of [a, b]) {
      const replay = await send(app, body, key);
      expectStatus(replay, 201);
      expect(replay.body).toEqual(winner.body);
    }
    expect(await feedIds(a, `${p}-0`)).toEqual([winner.body.id]);
    expect(await feedIds(b, `${p}-999`)).toEqual([winner.body.id]);
  });

  it("rejects the same key with another body on another instance", async () => {
    const p = prefix();
    const key = randomUUID();
    expectStatus(await send(a, { recipients: [`${p}-x`], title: "one" }, key), 201);
    expectProblem(await send(b, { recipients: [`${p}-x`], title: "two" }, key), 422);
  });

  it("delivers exactly once when the first instance dies mid-send and the client retries on another", async () => {
    const p = prefix();
    const recipients = Array.from({ length: 10 }, (_, i) => `${p}-${i}`);
    const body = { recipients, title: "crash" };
    const key = randomUUID();

    // Instance "c" reaches the store, delivers to the first 4 recipients, then its process dies:
    // no response, no release, no completion.
    const real = await redisStore();
    const dying = new Proxy(real, {
      get(target, prop) {
        if (prop === "deliver") {
          return async (...[tenant, users, n, options]: Parameters<Store["deliver"]>) => {
            await target.deliver(tenant, users.slice(0, 4), n, options);
            throw new Error("process killed");
          };
        }
        if (prop === "releaseIdempotency") return async () => {};
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const c = await buildTestApp({ store: dying, instanceId: "c" });
    expect((await send(c, body, key)).status).toBe(500);

    // An immediate retry is told the first attempt still holds the key…
    expectProblem(await send(b, body, key), 409);
    // …and once its lease has run out, a retry resumes it under the same notification id.
    const later = await buildTestApp({ store: stores[1] as Store, instanceId: "b-later", now: () => Date.now() + 6000 });
    const retry = await send(later, body, key);
    expectStatus(retry, 201);
    expect(retry.body.recipients).toBe(10);
    for (const user of recipients) {
      expect(await feedIds(a, user), user).toEqual([retry.body.id]);
      expect((await a.call("GET", `/v1/users/${user}/notifications/counts`)).body).toEqual({ total: 1, unread: 1, unseen: 1 });
    }
    const replay = await send(a, body, key);
    expect(replay.body).toEqual(retry.body);
  });
});
