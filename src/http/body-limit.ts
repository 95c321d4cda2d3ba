import type { MiddlewareHandler } from "hono";
import { bodyLimit as honoBodyLimit } from "hono/body-limit";

/**
 * hono/body-limit with the same rules, minus its cost on the hot path. Hono's middleware reads
 * `c.req.raw.body` on every request, even a GET; on @hono/node-server that one property access
 * turns the lightweight request into a full undici Request with a web ReadableStream (measured:
 * about a tenth of the server's CPU under the benchmark mix, see BENCHMARKS.md), and it also
 * takes the body off node-server's direct read path for `c.req.json()`.
 *
 * Here: GET and HEAD have no body (the fetch spec forbids one, and node-server gives them none),
 * so they pass; a body with Content-Length and no Transfer-Encoding is judged by its
 * Content-Length, exactly as Hono does (Node's parser holds the body to that length); anything
 * else (chunked, or no length) goes through Hono's own middleware, which counts the bytes.
 */
export function bodyLimit(options: { maxSize: number; onError: () => never }): MiddlewareHandler {
  const slow = honoBodyLimit(options);
  return async function bodyLimit(c, next) {
    const method = c.req.method;
    if (method === "GET" || method === "HEAD") return next();
    const headers = c.req.raw.headers;
    const length = headers.get("content-length");
    if (length !== null && !headers.has("transfer-encoding")) {
      if (Number.parseInt(length, 10) > options.maxSize) options.onError();
      return next();
    }
    return slow(c, next);
  };
}
