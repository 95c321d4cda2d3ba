import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { MiddlewareHandler } from "hono";

/** The same acceptance rule as hono/request-id: at most 255 characters of [A-Za-z0-9_=-]. */
const SANE_ID = /^[\w\-=]{1,255}$/;

/**
 * The headers every response carries: X-Request-Id (the caller's own, if sane, else a new UUID;
 * also set as the `requestId` variable for logs and problem details), X-Herald-Instance, and
 * `Connection: close` once the instance is draining (answer requests on open keep-alive
 * connections, but ask clients to reconnect elsewhere).
 *
 * Same behaviour as hono/request-id plus a header-setting middleware, but cheaper: on
 * @hono/node-server the headers go straight onto Node's ServerResponse (Node merges them into the
 * response head), so Hono builds no Headers object for them and node-server keeps its fast path
 * for plain responses. Without a Node response (app.request() in tests, other runtimes) they are
 * set through Hono.
 */
export function requestHeaders(options: { instanceId: string; accepting: () => boolean }): MiddlewareHandler {
  const { instanceId, accepting } = options;
  return async function requestHeaders(c, next) {
    const given = c.req.raw.headers.get("x-request-id");
    const id = given !== null && SANE_ID.test(given) ? given : randomUUID();
    c.set("requestId", id);
    const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
    if (outgoing && typeof outgoing.setHeader === "function") {
      outgoing.setHeader("X-Request-Id", id);
      outgoing.setHeader("X-Herald-Instance", instanceId);
      await next();
      if (!accepting() && !outgoing.headersSent) outgoing.setHeader("Connection", "close");
      return;
    }
    c.header("X-Request-Id", id);
    await next();
    c.res.headers.set("X-Herald-Instance", instanceId);
    if (!accepting()) c.res.headers.set("Connection", "close");
  };
}
