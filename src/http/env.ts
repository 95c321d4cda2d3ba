import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Logger } from "pino";
import type { Config } from "../config.ts";
import type { Store } from "../store/types.ts";
import type { Principal } from "./auth.ts";
import type { Metrics } from "./metrics.ts";

/** Everything the app needs from outside; app.ts does no I/O of its own. */
export type AppDeps = {
  store: Store;
  config: Pick<Config, "apiKeys" | "tokenSecret" | "tokenTtlS" | "bodyLimit">;
  logger: Logger;
  metrics: Metrics;
  /** A per-process id, answered in X-Herald-Instance. */
  instanceId: string;
  /** False once shutdown has begun, so /readyz fails first and responses say Connection: close. */
  accepting: () => boolean;
  /** Serves GET /metrics; by default the app's own registry (a cluster worker asks the primary instead). */
  renderMetrics?: () => Promise<{ contentType: string; body: string }>;
  now?: () => number;
};

export type AppEnv = {
  Variables: { requestId: string; principal: Principal };
};

export type Router = OpenAPIHono<AppEnv>;
