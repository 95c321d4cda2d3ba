import type { Metrics } from "../http/metrics.ts";
import type { Store } from "./types.ts";

const OPERATIONS = [
  "deliver",
  "reserveIdempotency",
  "completeIdempotency",
  "releaseIdempotency",
  "list",
  "counts",
  "update",
  "mark",
  "remove",
  "ping",
] as const;

/**
 * Wraps a store so every operation's round-trip time lands in herald_store_operation_duration_seconds.
 *
 * @example
 * const store = instrumentStore(openSqliteStore({ path, feedMax }), metrics);
 */
export function instrumentStore(store: Store, metrics: Pick<Metrics, "observeStore">): Store {
  const wrapped: Record<string, unknown> = { kind: store.kind, close: () => store.close() };
  for (const operation of OPERATIONS) {
    const method = store[operation] as (...args: unknown[]) => Promise<unknown>;
    wrapped[operation] = async function timed(...args: unknown[]) {
      const start = performance.now();
      try {
        const result = await method.apply(store, args);
        metrics.observeStore(operation, "ok", (performance.now() - start) / 1000);
        return result;
      } catch (error) {
        metrics.observeStore(operation, "error", (performance.now() - start) / 1000);
        throw error;
      }
    };
  }
  return wrapped as unknown as Store;
}
