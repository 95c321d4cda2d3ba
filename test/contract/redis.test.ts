import { openRedisStore } from "../../src/store/redis/redis-store.ts";
import { describeStoreContract } from "./store.contract.ts";

/**
 * Runs against the Redis named by HERALD_TEST_REDIS_URL (default: the machine's shared Redis on
 * 127.0.0.1:6379). Every test uses a fresh tenant, so nothing is flushed and nothing collides.
 */
const url = process.env.HERALD_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

describeStoreContract(`redis (${url})`, async ({ feedMax }) => {
  const store = await openRedisStore({ url, feedMax, timeoutMs: 1000 });
  await store.ping();
  return { store, cleanup: () => store.close() };
});
