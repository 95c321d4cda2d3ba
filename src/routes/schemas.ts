import { z } from "@hono/zod-openapi";

/** Schemas shared by several route groups. */

export const USER_ID_PATTERN = /^[A-Za-z0-9._:@-]{1,128}$/;
export const CATEGORY_PATTERN = /^[A-Za-z0-9._:/-]{1,64}$/;

export const UserIdParam = z
  .string()
  .regex(USER_ID_PATTERN, "1 to 128 characters of A-Z a-z 0-9 . _ : @ -")
  .openapi({ param: { name: "userId", in: "path" }, example: "user_42" });

export const Category = z.string().regex(CATEGORY_PATTERN, "1 to 64 characters of A-Z a-z 0-9 . _ : / -").openapi({ example: "billing" });

export const Problem = z
  .object({
    type: z.string().openapi({ example: "urn:herald:problem:validation-failed" }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    requestId: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem", { description: "RFC 9457 problem details" });

const problemResponse = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: Problem } },
});

/** The error responses every /v1 route can give. */
export const errorResponses = {
  400: problemResponse("Invalid request; `errors` lists each field"),
  401: problemResponse("Missing, invalid or expired credentials"),
  403: problemResponse("The credentials may not do this"),
  413: problemResponse("Body larger than HERALD_BODY_LIMIT"),
  415: problemResponse("Body is not application/json"),
  503: problemResponse("The store did not answer in time; retry after Retry-After seconds"),
} as const;

export const notFoundResponse = { 404: problemResponse("No such notification in this feed") } as const;
export const idempotencyResponses = {
  409: problemResponse("A request with this Idempotency-Key is still in progress; retry after Retry-After seconds"),
  422: problemResponse("This Idempotency-Key was used with a different request"),
} as const;

export const bearerSecurity = [{ bearer: [] }];
