/**
 * The store contract. Every adapter (sqlite/, redis/) implements it with the same observable
 * behaviour, proven by one contract suite (test/contract/store.contract.ts) run against each.
 *
 * Every method that touches a feed touches exactly one (tenant, user): one Redis Cluster slot,
 * one store round trip.
 */

/** One user's feed inside one tenant. */
export type FeedRef = { readonly tenant: string; readonly user: string };

export type Counts = { total: number; unread: number; unseen: number };

/** Timestamps in epoch milliseconds; null when the state is not set. */
export type ItemState = { seenAt: number | null; readAt: number | null; archivedAt: number | null };

/** A notification as stored in every recipient's feed. */
export type NewNotification = {
  readonly id: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly category: string | null;
  /**
   * The item's immutable fields as a JSON object string, serialized once per send and copied
   * into every recipient's feed, so that reads return it without re-encoding.
   */
  readonly content: string;
};

/** A feed item as read back: the immutable content plus its per-user state. */
export type FeedItem = ItemState & { readonly content: string };

export type StatusFilter = "all" | "unread" | "read";
export type ArchivedFilter = "exclude" | "include" | "only";

export type ListQuery = {
  limit: number;
  /** Exclusive upper bound on the feed position (the `seq` of the last item of the previous page). */
  before: number | null;
  status: StatusFilter;
  archived: ArchivedFilter;
  category: string | null;
};

export type ListPage = {
  items: FeedItem[];
  /** The position to pass as `before` for the next page, or null on the last page. */
  next: number | null;
  counts: Counts;
};

export type ItemPatch = { read?: boolean; seen?: boolean; archived?: boolean };

export type MarkAction = "read" | "unread" | "seen" | "archive" | "unarchive";

/** What an Idempotency-Key reservation found. */
export type Reservation =
  /** First use of the key: deliver with the proposed id and time. */
  | { state: "new" }
  /** A previous attempt stopped before completing (its instance died): deliver again with its id and time. */
  | { state: "resume"; id: string; createdAt: number }
  /** Completed: replay the response. */
  | { state: "done"; id: string; createdAt: number }
  /** Another attempt holds the key right now. */
  | { state: "in-flight" }
  /** The key was used with a different request. */
  | { state: "mismatch" };

export type DeliverOptions = {
  now: number;
  /**
   * When set, each recipient keeps a delivery marker for this many ms, so that a retried send
   * with the same notification id inserts nothing twice, even if the item was since deleted.
   */
  dedupeMs: number | null;
};

export interface Store {
  readonly kind: "sqlite" | "redis" | "redis-cluster";

  /** Copies one notification into every recipient's feed; idempotent per (recipient, id) when deduplicating. */
  deliver(tenant: string, recipients: readonly string[], notification: NewNotification, options: DeliverOptions): Promise<void>;

  /** Atomically claims an Idempotency-Key for one attempt, or reports who holds it. */
  reserveIdempotency(
    tenant: string,
    key: string,
    claim: { fingerprint: string; id: string; createdAt: number; now: number; leaseMs: number; ttlMs: number },
  ): Promise<Reservation>;
  /** Marks a reserved key as completed, so that retries replay it. */
  completeIdempotency(tenant: string, key: string): Promise<void>;
  /** Gives a reserved key back after a failed attempt, so that an immediate retry is not told 409. */
  releaseIdempotency(tenant: string, key: string): Promise<void>;

  list(feed: FeedRef, query: ListQuery, now: number): Promise<ListPage>;
  counts(feed: FeedRef, now: number): Promise<Counts>;
  /** Applies a patch to one item; null when the item does not exist. */
  update(feed: FeedRef, id: string, patch: ItemPatch, now: number): Promise<FeedItem | null>;
  /** Applies an action to the given items, or to the whole feed; returns how many items changed. */
  mark(feed: FeedRef, action: MarkAction, ids: readonly string[] | null, now: number): Promise<number>;
  /** Deletes one item; false when it does not exist. */
  remove(feed: FeedRef, id: string, now: number): Promise<boolean>;

  /** Throws StoreUnavailableError unless the store answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The store could not be reached in time. The API answers 503 with Retry-After. */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
}
