import type { Context, TypedResponse } from "hono";

/**
 * Answers with JSON that is already serialized (stored item content spliced with its state), typed
 * as the route's declared response. The cast is the price of not parsing and re-encoding stored
 * JSON on every read; the HTTP tests check these bodies against the response schemas.
 */
export function preSerialized(c: Context, json: string, status: 200): TypedResponse<never, 200, "json"> {
  return c.body(json, status, { "Content-Type": "application/json" }) as unknown as TypedResponse<never, 200, "json">;
}
