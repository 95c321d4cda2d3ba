import type { Hono } from "hono";
import type { AppDeps, AppEnv } from "../../http/env.ts";
import { renderDocsPage } from "./docs.ts";

/**
 * Operations endpoints, outside /v1 and without auth.
 * /livez says the process is up; /readyz says this instance should get traffic (store answers and
 * we are not draining). Kubernetes restarts on the first and routes on the second, so a store
 * outage makes instances unready, never restarted.
 */
export function opsRoutes(app: Hono<AppEnv>, deps: AppDeps, openapi: () => unknown): void {
  app.get("/livez", (c) => c.json({ status: "ok" }));

  app.get("/readyz", async (c) => {
    if (!deps.accepting()) return c.json({ status: "draining" }, 503);
    try {
      await deps.store.ping();
      return c.json({ status: "ready", store: deps.store.kind });
    } catch (error) {
      return c.json({ status: "store unavailable", detail: (error as Error).message }, 503);
    }
  });

  app.get("/metrics", async (c) => {
    const { contentType, body } = deps.renderMetrics
      ? await deps.renderMetrics()
      : { contentType: deps.metrics.registry.contentType, body: await deps.metrics.registry.metrics() };
    return c.body(body, 200, { "Content-Type": contentType });
  });

  let document: string | undefined;
  app.get("/openapi.json", (c) => {
    document ??= JSON.stringify(openapi());
    return c.body(document, 200, { "Content-Type": "application/json" });
  });

  let page: string | undefined;
  app.get("/docs", (c) => {
    page ??= renderDocsPage(openapi() as Parameters<typeof renderDocsPage>[0]);
    return c.html(page);
  });
}
