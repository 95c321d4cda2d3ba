import type { Config } from "../config.ts";
import { openSqliteStore, parseSqliteUrl } from "./sqlite/sqlite-store.ts";
import type { Store } from "./types.ts";

/**
 * Opens the store that HERALD_STORE_URL names. The Redis adapter is loaded only when used, so the
 * embedded default never loads a Redis client.
 */
export async function openStore(config: Pick<Config, "storeUrl" | "feedMax" | "storeTimeoutMs">): Promise<Store> {
  if (config.storeUrl.startsWith("sqlite:")) {
    const { path, synchronous } = parseSqliteUrl(config.storeUrl);
    return openSqliteStore({ path, synchronous, feedMax: config.feedMax });
  }
  const { openRedisStore } = await import("./redis/redis-store.ts");
  return openRedisStore({ url: config.storeUrl, feedMax: config.feedMax, timeoutMs: config.storeTimeoutMs });
}
