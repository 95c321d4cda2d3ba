import { createRoute } from "@hono/zod-openapi";
import { requireFeed } from "../../http/auth.ts";
import type { AppDeps, Router } from "../../http/env.ts";
import { bearerSecurity, errorResponses } from "../schemas.ts";
import { CountsSchema, FeedParams } from "./schema.ts";

export const countsRoute = createRoute({
  method: "get",
  path: "/v1/users/{userId}/notifications/counts",
  summary: "Exact total, unread and unseen counts (archived and expired items excluded)",
  tags: ["feed"],
  security: bearerSecurity,
  request: { params: FeedParams },
  responses: {
    200: { description: "The feed's counts", content: { "application/json": { schema: CountsSchema } } },
    ...errorResponses,
  },
});

export function feedCounts(router: Router, deps: AppDeps, now: () => number): void {
  router.openapi(countsRoute, async (c) => {
    const { userId } = c.req.valid("param");
    return c.json(await deps.store.counts(requireFeed(c, userId), now()), 200);
  });
}
