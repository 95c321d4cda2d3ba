import { z } from "@hono/zod-openapi";
import { Category, UserIdParam } from "../schemas.ts";
import { FeedCursor } from "./serialize.ts";

export const FeedParams = z.object({ userId: UserIdParam });
const ItemId = z.string().min(1).max(64).openapi({ example: "0f8fad5b-d9cb-469f-a165-70867728950e" });
export const ItemParams = z.object({ userId: UserIdParam, id: ItemId.openapi({ param: { name: "id", in: "path" } }) });

const Timestamp = z.string().datetime().nullable();

export const FeedItemSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    body: z.string().nullable(),
    category: z.string().nullable(),
    data: z.record(z.string(), z.unknown()).nullable(),
    actionUrl: z.string().nullable(),
    createdAt: z.string().datetime(),
    expiresAt: Timestamp,
    seenAt: Timestamp,
    readAt: Timestamp,
    archivedAt: Timestamp,
  })
  .openapi("FeedItem");

export const CountsSchema = z
  .object({
    total: z.number().int().openapi({ description: "Items in the feed, excluding archived and expired ones" }),
    unread: z.number().int(),
    unseen: z.number().int(),
  })
  .openapi("Counts");

export const ListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ example: 20 }),
  cursor: z
    .string()
    .max(64)
    .refine((c) => FeedCursor.decode(c) !== null, "not a cursor returned by this API")
    .optional(),
  status: z.enum(["all", "unread", "read"]).default("all"),
  archived: z.enum(["exclude", "include", "only"]).default("exclude"),
  category: Category.optional(),
});

export const FeedPageSchema = z
  .object({
    items: z.array(FeedItemSchema),
    nextCursor: z.string().nullable(),
    counts: CountsSchema,
  })
  .openapi("FeedPage");

export const PatchBody = z
  .object({
    read: z.boolean().optional(),
    seen: z.boolean().optional(),
    archived: z.boolean().optional(),
  })
  .strict()
  .refine((p) => p.read !== undefined || p.seen !== undefined || p.archived !== undefined, "set at least one of read, seen, archived")
  .refine((p) => !(p.read === true && p.seen === false), "read implies seen: read=true with seen=false is contradictory")
  .openapi("ItemPatch");

export const MarkBody = z
  .object({
    action: z.enum(["read", "unread", "seen", "archive", "unarchive"]),
    ids: z.array(ItemId).min(1).max(1000).optional().openapi({ description: "Omit to apply to the whole feed" }),
  })
  .strict()
  .openapi("MarkRequest");

export const MarkResultSchema = z.object({ updated: z.number().int() }).openapi("MarkResult");
