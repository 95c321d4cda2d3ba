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
    // A plain function chaining on the store's promise, not an async wrapper around it: one
    // promise and one microtask hop fewer per store call on the hot path.
    wrapped[operation] = function timed(...args: unknown[]): Promise<unknown> {
      const start = performance.now();
      let pending: Promise<unknown>;
      try {
        pending = method.apply(store, args);
      } catch (error) {
        metrics.observeStore(operation, "error", (performance.now() - start) / 1000);
        return Promise.reject(error);
      }
      return pending.then(
        (result) => {
          metrics.observeStore(operation, "ok", (performance.now() - start) / 1000);
          return result;
        },
        (error: unknown) => {
          metrics.observeStore(operation, "error", (performance.now() - start) / 1000);
          throw error;
        },
      );
    };
  }
  return wrapped as unknown as Store;
}
