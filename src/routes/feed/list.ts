import { createRoute } from "@hono/zod-openapi";
import { requireFeed } from "../../http/auth.ts";
import type { AppDeps, Router } from "../../http/env.ts";
import { preSerialized } from "../../http/json.ts";
import { bearerSecurity, errorResponses } from "../schemas.ts";
import { FeedPageSchema, FeedParams, ListQuerySchema } from "./schema.ts";
import { FeedCursor, feedPageJson } from "./serialize.ts";

export const listFeedRoute = createRoute({
  method: "get",
  path: "/v1/users/{userId}/notifications",
  summary: "List a user's feed, newest first",
  tags: ["feed"],
  security: bearerSecurity,
  request: { params: FeedParams, query: ListQuerySchema },
  responses: {
    200: { description: "One page of the feed with the feed's counts", content: { "application/json": { schema: FeedPageSchema } } },
    ...errorResponses,
  },
});

export function listFeed(router: Router, deps: AppDeps, now: () => number): void {
  router.openapi(listFeedRoute, async (c) => {
    const { userId } = c.req.valid("param");
    const q = c.req.valid("query");
    const page = await deps.store.list(
      requireFeed(c, userId),
      {
        limit: q.limit,
        before: q.cursor === undefined ? null : FeedCursor.decode(q.cursor),
        status: q.status,
        archived: q.archived,
        category: q.category ?? null,
      },
      now(),
    );
    return preSerialized(c, feedPageJson(page), 200);
  });
}
