import type { Context } from "hono";
import { matchedRoutes } from "hono/route";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

export type Metrics = {
  registry: Registry;
  /** Records one store operation's duration in seconds. */
  observeStore(operation: string, outcome: "ok" | "error", seconds: number): void;
  /** Records one answered request (its route pattern and status read from the context); app.ts times it. */
  observeRequest(c: Context, seconds: number): void;
};

const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/**
 * Prometheus metrics on a registry of the app's own (so tests can build many apps).
 * Label children are bound once per label set and cached, so `observe()` on the hot path is a
 * map lookup plus an increment; labels are the route pattern, never the raw path.
 *
 * @example
 * const metrics = createMetrics({ defaults: true });
 * metrics.observeRequest(c, 0.002);
 */
export function createMetrics(options: { defaults: boolean }): Metrics {
  const registry = new Registry();
  if (options.defaults) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });

  const requests = new Counter({
    name: "herald_http_requests_total",
    help: "HTTP requests answered, by method, route pattern and status.",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "herald_http_request_duration_seconds",
    help: "Time from receiving a request to its response, by method, route pattern and status.",
    labelNames: ["method", "route", "status"] as const,
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  const storeDuration = new Histogram({
    name: "herald_store_operation_duration_seconds",
    help: "Store round-trip time by operation and outcome.",
    labelNames: ["operation", "outcome"] as const,
    buckets: STORE_BUCKETS,
    registers: [registry],
  });

  type Bound = { count: ReturnType<typeof requests.labels>; duration: ReturnType<typeof duration.labels> };
  const bound = new Map<string, Bound>();
  const storeBound = new Map<string, ReturnType<typeof storeDuration.labels>>();

  const observeRequest = (c: Context, seconds: number): void => {
    const route = routePattern(c);
    const status = c.res.status;
    const key = `${c.req.method} ${route} ${status}`;
    let children = bound.get(key);
    if (!children) {
      const labels = { method: c.req.method, route, status: String(status) };
      children = { count: requests.labels(labels), duration: duration.labels(labels) };
      bound.set(key, children);
    }
    children.count.inc();
    children.duration.observe(seconds);
  };

  return {
    registry,
    observeRequest,
    observeStore(operation, outcome, seconds) {
      const key = `${operation} ${outcome}`;
      let child = storeBound.get(key);
      if (!child) {
        child = storeDuration.labels({ operation, outcome });
        storeBound.set(key, child);
      }
      child.observe(seconds);
    },
  };
}

/** The matched route's pattern (e.g. `/v1/users/:userId/notifications`), or "unmatched". */
function routePattern(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i];
    if (route && route.method !== "ALL") return route.path;
  }
  return "unmatched";
}
