import { createRoute } from "@hono/zod-openapi";
import { requireFeed } from "../../http/auth.ts";
import type { AppDeps, Router } from "../../http/env.ts";
import { ApiError } from "../../http/errors.ts";
import { bearerSecurity, errorResponses, notFoundResponse } from "../schemas.ts";
import { ItemParams } from "./schema.ts";

export const removeItemRoute = createRoute({
  method: "delete",
  path: "/v1/users/{userId}/notifications/{id}",
  summary: "Delete one item from the feed",
  tags: ["feed"],
  security: bearerSecurity,
  request: { params: ItemParams },
  responses: {
    204: { description: "Deleted" },
    ...errorResponses,
    ...notFoundResponse,
  },
});

export function removeItem(router: Router, deps: AppDeps, now: () => number): void {
  router.openapi(removeItemRoute, async (c) => {
    const { userId, id } = c.req.valid("param");
    if (!(await deps.store.remove(requireFeed(c, userId), id, now()))) {
      throw new ApiError("not_found", `notification ${id} is not in this feed`);
    }
    return c.body(null, 204);
  });
}
