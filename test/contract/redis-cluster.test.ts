import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { feedKeys, openRedisStore } from "../../src/store/redis/redis-store.ts";
import type { Store } from "../../src/store/types.ts";
import { buildTestApp, expectProblem, expectStatus, type TestApp } from "../support/app.ts";
import { type RedisClusterHandle, startRedisCluster } from "../support/redis.ts";

/**
 * The unchanged store contract on a real 3-master Redis Cluster (private, in temp dirs). Redis
 * Cluster rejects any script whose keys span slots, so passing here proves every script is
 * single-slot. Then one master is killed mid-run.
 */
let cluster: RedisClusterHandle;
const clusterReady = startRedisCluster({ masters: 3 }).then((c) => {
  cluster = c;
  return c;
});
afterAll(async () => {
  await cluster?.cleanup();
});

import { describeStoreContract } from "./store.contract.ts";

describeStoreContract("redis cluster (3 masters)", async ({ feedMax }) => {
  const { url } = await clusterReady;
  const store = await openRedisStore({ url, feedMax, timeoutMs: 1000 });
  await store.ping();
  return { store, cleanup: () => store.close() };
});

describe("redis cluster with a master down", () => {
  let store: Store;
  let t: TestApp;
  beforeAll(async () => {
    const { url } = await clusterReady;
    store = await openRedisStore({ url, feedMax: 1000, timeoutMs: 1000 });
    t = await buildTestApp({ store });
  });
  afterAll(() => store?.close());

  it("fails requests for the dead master's slots fast with 503 and keeps serving the rest", { timeout: 60_000 }, async () => {
    // Find users whose feeds live on different masters.
    const owner = new Map<number, string>();
    for (let i = 0; owner.size < 3 && i < 200; i++) {
      const user = `slot-user-${i}`;
      const { port } = await cluster.masterForKey(feedKeys("acme", user)[0] as string);
      if (!owner.has(port)) owner.set(port, user);
    }
    expect(owner.size).toBe(3);
    for (const user of owner.values()) {
      expectStatus(await t.call("POST", "/v1/notifications", { body: { recipients: [user], title: "before" } }), 201);
    }

    const victim = cluster.nodes[0];
    if (!victim) throw new Error("no nodes");
    const deadUser = owner.get(victim.port) as string;
    await victim.kill();

    for (const [port, user] of owner) {
      const start = performance.now();
      const res = await t.call("GET", `/v1/users/${user}/notifications/counts`);
      const ms = performance.now() - start;
      if (port === victim.port) {
        expectProblem(res, 503);
        expect(ms, `dead slot answered in ${ms} ms`).toBeLessThan(1500);
      } else {
        expectStatus(res, 200);
        expect(res.body).toEqual({ total: 1, unread: 1, unseen: 1 });
      }
    }
    // A send that includes a recipient on the dead master is not acknowledged.
    const mixed = await t.call("POST", "/v1/notifications", { body: { recipients: [...owner.values()], title: "during" } });
    expectProblem(mixed, 503);

    await victim.start();
    const deadline = Date.now() + 15_000;
    let res = await t.call("GET", `/v1/users/${deadUser}/notifications/counts`);
    while (res.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      res = await t.call("GET", `/v1/users/${deadUser}/notifications/counts`);
    }
    expectStatus(res, 200);
  });
});
