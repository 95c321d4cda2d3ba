import { createHash, randomUUID } from "node:crypto";
import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { requireServer } from "../../http/auth.ts";
import type { AppDeps, Router } from "../../http/env.ts";
import { ApiError } from "../../http/errors.ts";
import type { NewNotification } from "../../store/types.ts";
import { bearerSecurity, errorResponses, idempotencyResponses } from "../schemas.ts";
import { buildNotification } from "./notification.ts";
import { IdempotencyHeaders, SendBody, SendResult } from "./schema.ts";

/** Idempotency keys are kept this long (IETF httpapi idempotency-key draft; Stripe keeps 24 h). */
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
/**
 * How long one attempt holds its key. A retry inside it gets 409; after it (the attempt's instance
 * died), the retry resumes with the same id, and per-recipient delivery markers keep it exactly once.
 */
export const IDEMPOTENCY_LEASE_MS = 5000;

export const sendRoute = createRoute({
  method: "post",
  path: "/v1/notifications",
  summary: "Send a notification to up to 1,000 recipients",
  tags: ["notifications"],
  security: bearerSecurity,
  request: {
    headers: IdempotencyHeaders,
    body: { required: true, content: { "application/json": { schema: SendBody } } },
  },
  responses: {
    201: { description: "Delivered into every recipient's feed", content: { "application/json": { schema: SendResult } } },
    ...errorResponses,
    ...idempotencyResponses,
  },
});

export function sendNotification(router: Router, deps: AppDeps, now: () => number): void {
  router.openapi(sendRoute, async (c) => {
    const tenant = requireServer(c);
    const body = c.req.valid("json");
    const key = c.req.valid("header")["idempotency-key"];
    const recipients = [...new Set(body.recipients)];
    const at = now();
    if (key === undefined) {
      const notification = buildNotification(randomUUID(), at, body);
      await deps.store.deliver(tenant, recipients, notification, { now: at, dedupeMs: null });
      return created(c, notification, recipients.length);
    }

    const proposed = randomUUID();
    const reservation = await deps.store.reserveIdempotency(tenant, key, {
      fingerprint: createHash("sha256").update(JSON.stringify(body)).digest("base64url"),
      id: proposed,
      createdAt: at,
      now: at,
      leaseMs: IDEMPOTENCY_LEASE_MS,
      ttlMs: IDEMPOTENCY_TTL_MS,
    });
    switch (reservation.state) {
      case "mismatch":
        throw new ApiError("idempotency_mismatch", "this Idempotency-Key was already used with a different request body");
      case "in-flight":
        throw new ApiError("idempotency_in_flight", "a request with this Idempotency-Key is still being processed", {
          headers: { "Retry-After": "1" },
        });
      case "done": {
        c.header("Idempotent-Replayed", "true");
        return created(c, buildNotification(reservation.id, reservation.createdAt, body), recipients.length);
      }
    }
    // "new" delivers under the ids we proposed; "resume" redelivers the dead attempt's notification.
    const notification =
      reservation.state === "resume"
        ? buildNotification(reservation.id, reservation.createdAt, body)
        : buildNotification(proposed, at, body);
    try {
      await deps.store.deliver(tenant, recipients, notification, { now: at, dedupeMs: IDEMPOTENCY_TTL_MS });
    } catch (error) {
      await deps.store.releaseIdempotency(tenant, key).catch(() => {});
      throw error;
    }
    await deps.store.completeIdempotency(tenant, key);
    return created(c, notification, recipients.length);
  });
}

function created(c: Context, n: NewNotification, recipients: number) {
  return c.json({ id: n.id, recipients, createdAt: new Date(n.createdAt).toISOString() }, 201);
}
