import { z } from "@hono/zod-openapi";
import { Category, USER_ID_PATTERN } from "../schemas.ts";

export const MAX_RECIPIENTS = 1000;
export const MAX_DATA_BYTES = 8 * 1024;

export const SendBody = z
  .object({
    recipients: z
      .array(z.string().regex(USER_ID_PATTERN, "1 to 128 characters of A-Z a-z 0-9 . _ : @ -"))
      .min(1)
      .max(MAX_RECIPIENTS)
      .openapi({ description: "User ids; duplicates are delivered once", example: ["user_42"] }),
    title: z.string().min(1).max(200).openapi({ example: "Your invoice is ready" }),
    body: z.string().max(5000).optional(),
    category: Category.optional(),
    data: z
      .record(z.string(), z.unknown())
      .refine((d) => Buffer.byteLength(JSON.stringify(d)) <= MAX_DATA_BYTES, `at most ${MAX_DATA_BYTES} bytes as JSON`)
      .optional()
      .openapi({ example: { invoiceId: "inv_1" } }),
    actionUrl: z.string().url().max(2048).optional(),
    expiresAt: z
      .string()
      .datetime({ offset: true })
      .optional()
      .openapi({ description: "After this instant the item leaves lists and counts" }),
  })
  .strict()
  .openapi("SendNotification");

export type SendBody = z.infer<typeof SendBody>;

export const SendResult = z
  .object({
    id: z.string().openapi({ description: "The notification's id in every recipient's feed" }),
    recipients: z.number().int().openapi({ description: "Distinct recipients" }),
    createdAt: z.string().datetime(),
  })
  .openapi("SendResult");

export const IdempotencyHeaders = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces")
    .optional()
    .openapi({ description: "Retries with the same key and body deliver once (24 h)" }),
});
