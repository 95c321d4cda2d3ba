import { createRoute, z } from "@hono/zod-openapi";
import { issueUserToken, requireServer } from "../../http/auth.ts";
import type { AppDeps, Router } from "../../http/env.ts";
import { FeedParams } from "../feed/schema.ts";
import { bearerSecurity, errorResponses } from "../schemas.ts";

export const UserToken = z
  .object({
    token: z.string().openapi({ description: "HS256 JWT for Authorization: Bearer, scoped to this tenant and user" }),
    expiresAt: z.string().datetime(),
  })
  .openapi("UserToken");

export const createTokenRoute = createRoute({
  method: "post",
  path: "/v1/users/{userId}/tokens",
  summary: "Issue a short-lived token that lets a browser or app read and change this user's own feed",
  tags: ["tokens"],
  security: bearerSecurity,
  request: { params: FeedParams },
  responses: {
    201: { description: "A signed user token", content: { "application/json": { schema: UserToken } } },
    ...errorResponses,
  },
});

export function createUserToken(router: Router, deps: AppDeps, now: () => number): void {
  router.openapi(createTokenRoute, async (c) => {
    const tenant = requireServer(c);
    const { userId } = c.req.valid("param");
    const issued = await issueUserToken({ secret: deps.config.tokenSecret, tenant, user: userId, ttlS: deps.config.tokenTtlS, now: now() });
    return c.json(issued, 201);
  });
}
