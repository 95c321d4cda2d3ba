import { createRoute } from "@hono/zod-openapi";
import { requireFeed } from "../../http/auth.ts";
import type { AppDeps, Router } from "../../http/env.ts";
import { ApiError } from "../../http/errors.ts";
import { preSerialized } from "../../http/json.ts";
import { bearerSecurity, errorResponses, notFoundResponse } from "../schemas.ts";
import { FeedItemSchema, ItemParams, PatchBody } from "./schema.ts";
import { itemJson } from "./serialize.ts";

export const updateItemRoute = createRoute({
  method: "patch",
  path: "/v1/users/{userId}/notifications/{id}",
  summary: "Mark one item read, seen or archived (or undo); idempotent",
  tags: ["feed"],
  security: bearerSecurity,
  request: { params: ItemParams, body: { required: true, content: { "application/json": { schema: PatchBody } } } },
  responses: {
    200: { description: "The item after the change", content: { "application/json": { schema: FeedItemSchema } } },
    ...errorResponses,
    ...notFoundResponse,
  },
});

export function updateItem(router: Router, deps: AppDeps, now: () => number): void {
  router.openapi(updateItemRoute, async (c) => {
    const { userId, id } = c.req.valid("param");
    const item = await deps.store.update(requireFeed(c, userId), id, c.req.valid("json"), now());
    if (!item) throw new ApiError("not_found", `notification ${id} is not in this feed`);
    return preSerialized(c, itemJson(item), 200);
  });
}
