import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import { authenticate } from "./http/auth.ts";
import type { AppDeps, AppEnv } from "./http/env.ts";
import { ApiError, onError, problem } from "./http/errors.ts";
import { feedRoutes } from "./routes/feed/index.ts";
import { sendNotification } from "./routes/notifications/send.ts";
import { opsRoutes } from "./routes/ops/index.ts";
import { createUserToken } from "./routes/tokens/create.ts";

/**
 * Builds the Herald app from its dependencies. No I/O happens here; server.ts binds the port.
 * Middleware order: request id, instance/drain headers, metrics, log line, then per-route auth.
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

  app.use(requestId());
  app.use(async function instanceHeaders(c, next) {
    await next();
    c.res.headers.set("X-Herald-Instance", deps.instanceId);
    // While draining, still answer requests on open keep-alive connections, but ask clients to reconnect elsewhere.
    if (!deps.accepting()) c.res.headers.set("Connection", "close");
  });
  app.use(deps.metrics.middleware);
  app.use(async function requestLog(c, next) {
    const start = performance.now();
    await next();
    const status = c.res.status;
    const level = status >= 500 ? "error" : status >= 400 ? "info" : "debug";
    if (deps.logger.isLevelEnabled(level)) {
      deps.logger[level]({
        requestId: c.get("requestId"),
        method: c.req.method,
        path: c.req.path,
        status,
        ms: Math.round((performance.now() - start) * 100) / 100,
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
