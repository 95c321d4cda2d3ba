import { OpenAPIHono } from "@hono/zod-openapi";
import { authenticate } from "./http/auth.ts";
import { bodyLimit } from "./http/body-limit.ts";
import type { AppDeps, AppEnv } from "./http/env.ts";
import { ApiError, onError, problem } from "./http/errors.ts";
import { requestHeaders } from "./http/request-headers.ts";
import { feedRoutes } from "./routes/feed/index.ts";
import { sendNotification } from "./routes/notifications/send.ts";
import { opsRoutes } from "./routes/ops/index.ts";
import { createUserToken } from "./routes/tokens/create.ts";

/**
 * Builds the Herald app from its dependencies. No I/O happens here; server.ts binds the port.
 * Middleware order: request id with instance/drain headers, metrics and log line, then per-route auth.
 *
 * @example
 * const app = createApp({ store, config, logger, metrics, instanceId: "test", accepting: () => true });
 * const res = await app.request("/livez");
 */
export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const now = deps.now ?? Date.now;
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (!result.success) {
        const target = "target" in result ? String(result.target) : "";
        const errors = result.error.issues.map((issue) => ({
          path: [target === "json" ? "body" : target, ...issue.path.map(String)].filter(Boolean).join("."),
          message: issue.message,
        }));
        return problem(c, new ApiError("validation_failed", errors.map((e) => `${e.path}: ${e.message}`).join("; "), { errors }));
      }
    },
  });

  app.use(requestHeaders({ instanceId: deps.instanceId, accepting: deps.accepting }));
  // Metrics and the log line share one timing middleware (one async layer and one clock read fewer
  // per request than two middlewares; see BENCHMARKS.md).
  app.use(async function observe(c, next) {
    const start = performance.now();
    let ms: number;
    try {
      await next();
    } finally {
      ms = performance.now() - start;
      deps.metrics.observeRequest(c, ms / 1000);
    }
    const status = c.res.status;
    const level = status >= 500 ? "error" : status >= 400 ? "info" : "debug";
    if (deps.logger.isLevelEnabled(level)) {
      deps.logger[level]({
        requestId: c.get("requestId"),
        method: c.req.method,
        path: c.req.path,
        status,
        ms: Math.round(ms * 100) / 100,
      });
    }
  });

  opsRoutes(app, deps, () => openApiDocument(app));

  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: deps.config.bodyLimit,
      onError: () => {
        throw new ApiError("payload_too_large", `the body exceeds ${deps.config.bodyLimit} bytes`);
      },
    }),
    authenticate(deps.config),
  );
  sendNotification(app, deps, now);
  createUserToken(app, deps, now);
  feedRoutes(app, deps, now);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "A tenant API key (server side) or a user token from POST /v1/users/{userId}/tokens",
  });
  app.notFound((c) => problem(c, new ApiError("not_found", `no route for ${c.req.method} ${c.req.path}`)));
  app.onError(onError(deps.logger));
  return app;
}

function openApiDocument(app: OpenAPIHono<AppEnv>) {
  return app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "Herald",
      version: "1.0.0",
      description: "Self-hostable in-app notification inbox. Errors are RFC 9457 application/problem+json.",
    },
  });
}
