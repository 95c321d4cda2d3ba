import type { NewNotification } from "../../store/types.ts";

/** The fields of a send request that become the notification (validated by SendBody). */
export type NotificationFields = {
  title: string;
  body?: string;
  category?: string;
  data?: Record<string, unknown>;
  actionUrl?: string;
  expiresAt?: string;
};

/**
 * The stored form of a notification: its immutable fields serialized once, to be copied into every
 * recipient's feed. Framework-free, so the benchmark floor builds notifications exactly as Herald does.
 *
 * @example
 * const n = buildNotification(randomUUID(), Date.now(), { title: "Your invoice is ready" });
 */
export function buildNotification(id: string, createdAt: number, body: NotificationFields): NewNotification {
  const expiresAt = body.expiresAt === undefined ? null : Date.parse(body.expiresAt);
  const content = JSON.stringify({
    id,
    title: body.title,
    body: body.body ?? null,
    category: body.category ?? null,
    data: body.data ?? null,
    actionUrl: body.actionUrl ?? null,
    createdAt: new Date(createdAt).toISOString(),
    expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString(),
  });
  return { id, createdAt, expiresAt, category: body.category ?? null, content };
}
