import { createRoute } from "@hono/zod-openapi";
import { requireFeed } from "../../http/auth.ts";
import type { AppDeps, Router } from "../../http/env.ts";
import { bearerSecurity, errorResponses } from "../schemas.ts";
import { FeedParams, MarkBody, MarkResultSchema } from "./schema.ts";

export const markFeedRoute = createRoute({
  method: "post",
  path: "/v1/users/{userId}/notifications/mark",
  summary: "Apply an action to the given items, or to the whole feed; synchronous",
  tags: ["feed"],
  security: bearerSecurity,
  request: { params: FeedParams, body: { required: true, content: { "application/json": { schema: MarkBody } } } },
  responses: {
    200: {
      description: "How many items actually changed state",
      content: { "application/json": { schema: MarkResultSchema } },
    },
    ...errorResponses,
  },
});

export function markFeed(router: Router, deps: AppDeps, now: () => number): void {
  router.openapi(markFeedRoute, async (c) => {
    const { userId } = c.req.valid("param");
    const { action, ids } = c.req.valid("json");
    const updated = await deps.store.mark(requireFeed(c, userId), action, ids ?? null, now());
    return c.json({ updated }, 200);
  });
}
