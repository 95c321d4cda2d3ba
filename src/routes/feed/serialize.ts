import type { Counts, FeedItem, ListPage } from "../../store/types.ts";

/*
 * The feed's wire format, with no framework dependency, so the benchmark floor (bench/floor.ts)
 * serializes exactly as Herald does.
 */

/**
 * A page cursor: the feed position of the last item returned. Positions only grow, so a page that
 * starts below it is unaffected by items inserted meanwhile: nothing is skipped or repeated.
 */
export const FeedCursor = {
  encode: (position: number): string => Buffer.from(`p${position}`).toString("base64url"),
  decode(cursor: string): number | null {
    const match = /^p([1-9][0-9]{0,15})$/.exec(Buffer.from(cursor, "base64url").toString("latin1"));
    return match ? Number(match[1]) : null;
  },
};

const iso = (ms: number | null) => (ms === null ? "null" : `"${new Date(ms).toISOString()}"`);

/**
 * Serializes a stored item to the API's FeedItem JSON by splicing the state onto the stored content,
 * so a read never parses or re-encodes the content.
 */
export function itemJson(item: FeedItem): string {
  return `${item.content.slice(0, -1)},"seenAt":${iso(item.seenAt)},"readAt":${iso(item.readAt)},"archivedAt":${iso(item.archivedAt)}}`;
}

export function countsJson(counts: Counts): string {
  return `{"total":${counts.total},"unread":${counts.unread},"unseen":${counts.unseen}}`;
}

/** The body of GET /v1/users/{userId}/notifications. */
export function feedPageJson(page: ListPage): string {
  const next = page.next === null ? "null" : `"${FeedCursor.encode(page.next)}"`;
  return `{"items":[${page.items.map(itemJson).join(",")}],"nextCursor":${next},"counts":${countsJson(page.counts)}}`;
}
