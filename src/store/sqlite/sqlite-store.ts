import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { applyMark, applyPatch, countsOf } from "../feed-state.ts";
import type {
  Counts,
  DeliverOptions,
  FeedItem,
  FeedRef,
  ItemPatch,
  ItemState,
  ListPage,
  ListQuery,
  MarkAction,
  NewNotification,
  Reservation,
  Store,
} from "../types.ts";

/*
 * The embedded store: one SQLite file in WAL mode through node:sqlite. node:sqlite is synchronous,
 * so each method runs to completion without interleaving, and every multi-statement change is one
 * transaction. Counts live in `feeds` and change in the same transaction as the items they count.
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS items (
  tenant TEXT NOT NULL, user TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,
  content TEXT NOT NULL, category TEXT, expires_at INTEGER,
  seen_at INTEGER, read_at INTEGER, archived_at INTEGER,
  PRIMARY KEY (tenant, user, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS items_by_id ON items (tenant, user, id);
CREATE INDEX IF NOT EXISTS items_by_expiry ON items (tenant, user, expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS feeds (
  tenant TEXT NOT NULL, user TEXT NOT NULL,
  seq INTEGER NOT NULL DEFAULT 0, size INTEGER NOT NULL DEFAULT 0,
  total INTEGER NOT NULL DEFAULT 0, unread INTEGER NOT NULL DEFAULT 0, unseen INTEGER NOT NULL DEFAULT 0,
  next_expiry INTEGER,
  PRIMARY KEY (tenant, user)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (
  tenant TEXT NOT NULL, user TEXT NOT NULL, id TEXT NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, user, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency (
  tenant TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, id TEXT NOT NULL,
  created_at INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0, lease_until INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, key)
) WITHOUT ROWID;
`;

/** A list row, as an array: seq, content, seen_at, read_at, archived_at. */
type ListRow = [number, string, number | null, number | null, number | null];
type Row = { seq: number; id: string; content: string; seen_at: number | null; read_at: number | null; archived_at: number | null };
type Sync = "off" | "normal" | "full";

const SWEEP_INTERVAL_MS = 60_000;

export type SqliteStoreOptions = { path: string; feedMax: number; synchronous?: Sync };

/**
 * Opens (and creates) the SQLite store.
 *
 * @example
 * const store = openSqliteStore({ path: "./data/herald.db", feedMax: 1000 });
 */
export function openSqliteStore(options: SqliteStoreOptions): Store {
  if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
  const db = new DatabaseSync(options.path);
  // mmap: reads come straight from the page cache, without a read() syscall per page (measured in BENCHMARKS.md).
  db.exec(
    `PRAGMA journal_mode = WAL; PRAGMA synchronous = ${options.synchronous ?? "normal"}; PRAGMA busy_timeout = 5000; PRAGMA mmap_size = 1073741824;`,
  );
  db.exec(SCHEMA);
  const columns = db.prepare("SELECT name FROM pragma_table_info('feeds')").all() as Array<{ name: string }>;
  if (!columns.some((c) => c.name === "next_expiry")) {
    // Files made before next_expiry existed: add it, and let every feed purge once.
    db.exec("ALTER TABLE feeds ADD COLUMN next_expiry INTEGER; UPDATE feeds SET next_expiry = 0;");
  }
  return new SqliteStore(db, options.feedMax);
}

/** Parses `sqlite:<path>[?synchronous=off|normal|full]`. */
export function parseSqliteUrl(url: string): { path: string; synchronous: Sync } {
  const [path = "", query = ""] = url.slice("sqlite:".length).split("?");
  const sync = new URLSearchParams(query).get("synchronous") ?? "normal";
  if (sync !== "off" && sync !== "normal" && sync !== "full")
    throw new Error(`sqlite synchronous must be off, normal or full, not ${sync}`);
  if (!path) throw new Error("sqlite URL needs a path, e.g. sqlite:./data/herald.db");
  return { path, synchronous: sync };
}

class SqliteStore implements Store {
  readonly kind = "sqlite" as const;
  readonly #db: DatabaseSync;
  readonly #feedMax: number;
  readonly #listStatements = new Map<string, StatementSync>();
  readonly #sweep: NodeJS.Timeout;
  readonly #q;

  constructor(db: DatabaseSync, feedMax: number) {
    this.#db = db;
    this.#feedMax = feedMax;
    const p = (sql: string) => db.prepare(sql);
    this.#q = {
      ensureFeed: p("INSERT INTO feeds (tenant, user) VALUES (?, ?) ON CONFLICT DO NOTHING"),
      feed: p("SELECT size, total, unread, unseen, next_expiry FROM feeds WHERE tenant = ? AND user = ?"),
      expiresNext: p("UPDATE feeds SET next_expiry = min(coalesce(next_expiry, ?), ?) WHERE tenant = ? AND user = ?"),
      resetExpiry: p(
        "UPDATE feeds SET next_expiry = (SELECT min(expires_at) FROM items WHERE tenant = ?1 AND user = ?2 AND expires_at IS NOT NULL) WHERE tenant = ?1 AND user = ?2",
      ),
      bump: p(
        "UPDATE feeds SET seq = seq + ?, size = size + ?, total = total + ?, unread = unread + ?, unseen = unseen + ? WHERE tenant = ? AND user = ? RETURNING seq",
      ),
      expired: p("DELETE FROM items WHERE tenant = ? AND user = ? AND expires_at <= ? RETURNING seen_at, read_at, archived_at"),
      oldest: p(
        "DELETE FROM items WHERE tenant = ? AND user = ? AND seq IN (SELECT seq FROM items WHERE tenant = ? AND user = ? ORDER BY seq LIMIT ?) RETURNING seen_at, read_at, archived_at",
      ),
      delivered: p("SELECT expires_at FROM deliveries WHERE tenant = ? AND user = ? AND id = ?"),
      markDelivered: p(
        "INSERT INTO deliveries (tenant, user, id, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET expires_at = excluded.expires_at",
      ),
      hasItem: p("SELECT 1 AS x FROM items WHERE tenant = ? AND user = ? AND id = ?"),
      insert: p("INSERT INTO items (tenant, user, seq, id, content, category, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)"),
      item: p("SELECT seq, id, content, seen_at, read_at, archived_at FROM items WHERE tenant = ? AND user = ? AND id = ?"),
      itemsByIds: p(
        "SELECT seq, id, content, seen_at, read_at, archived_at FROM items WHERE tenant = ? AND user = ? AND id IN (SELECT value FROM json_each(?))",
      ),
      allItems: p("SELECT seq, id, content, seen_at, read_at, archived_at FROM items WHERE tenant = ? AND user = ?"),
      setState: p("UPDATE items SET seen_at = ?, read_at = ?, archived_at = ? WHERE tenant = ? AND user = ? AND seq = ?"),
      remove: p("DELETE FROM items WHERE tenant = ? AND user = ? AND id = ? RETURNING seen_at, read_at, archived_at"),
      reservation: p("SELECT fingerprint, id, created_at, done, lease_until, expires_at FROM idempotency WHERE tenant = ? AND key = ?"),
      reserve: p(
        "INSERT INTO idempotency (tenant, key, fingerprint, id, created_at, lease_until, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET fingerprint = excluded.fingerprint, id = excluded.id, created_at = excluded.created_at, done = 0, lease_until = excluded.lease_until, expires_at = excluded.expires_at",
      ),
      lease: p("UPDATE idempotency SET lease_until = ? WHERE tenant = ? AND key = ?"),
      complete: p("UPDATE idempotency SET done = 1 WHERE tenant = ? AND key = ?"),
      sweepIdempotency: p("DELETE FROM idempotency WHERE expires_at <= ?"),
      sweepDeliveries: p("DELETE FROM deliveries WHERE expires_at <= ?"),
      // Prepared once: db.exec() would parse these three statements again on every operation.
      begin: p("BEGIN IMMEDIATE"),
      commit: p("COMMIT"),
      rollback: p("ROLLBACK"),
    };
    // Expired idempotency keys and delivery markers are also checked on read, so the sweep only reclaims space.
    this.#sweep = setInterval(() => this.#sweepExpired(), SWEEP_INTERVAL_MS).unref();
  }

  async deliver(tenant: string, recipients: readonly string[], n: NewNotification, options: DeliverOptions): Promise<void> {
    const q = this.#q;
    this.#transaction(() => {
      for (const user of recipients) {
        this.#touch(tenant, user, options.now, true);
        if (options.dedupeMs !== null) {
          const marker = q.delivered.get(tenant, user, n.id) as { expires_at: number } | undefined;
          if (marker && marker.expires_at > options.now) continue;
          q.markDelivered.run(tenant, user, n.id, options.now + options.dedupeMs);
        }
        if (n.expiresAt !== null && n.expiresAt <= options.now) continue;
        if (q.hasItem.get(tenant, user, n.id)) continue;
        const { seq } = q.bump.get(1, 1, 1, 1, 1, tenant, user) as { seq: number };
        q.insert.run(tenant, user, seq, n.id, n.content, n.category, n.expiresAt);
        if (n.expiresAt !== null) q.expiresNext.run(n.expiresAt, n.expiresAt, tenant, user);
        const { size } = q.feed.get(tenant, user) as { size: number };
        if (size > this.#feedMax) this.#drop(tenant, user, q.oldest.all(tenant, user, tenant, user, size - this.#feedMax));
      }
    });
  }

  async reserveIdempotency(
    tenant: string,
    key: string,
    claim: { fingerprint: string; id: string; createdAt: number; now: number; leaseMs: number; ttlMs: number },
  ): Promise<Reservation> {
    const q = this.#q;
    return this.#transaction((): Reservation => {
      const row = q.reservation.get(tenant, key) as
        | { fingerprint: string; id: string; created_at: number; done: number; lease_until: number; expires_at: number }
        | undefined;
      if (!row || row.expires_at <= claim.now) {
        q.reserve.run(tenant, key, claim.fingerprint, claim.id, claim.createdAt, claim.now + claim.leaseMs, claim.now + claim.ttlMs);
        return { state: "new" };
      }
      if (row.fingerprint !== claim.fingerprint) return { state: "mismatch" };
      if (row.done) return { state: "done", id: row.id, createdAt: row.created_at };
      if (row.lease_until > claim.now) return { state: "in-flight" };
      q.lease.run(claim.now + claim.leaseMs, tenant, key);
      return { state: "resume", id: row.id, createdAt: row.created_at };
    });
  }

  async completeIdempotency(tenant: string, key: string): Promise<void> {
    this.#q.complete.run(tenant, key);
  }

  async releaseIdempotency(tenant: string, key: string): Promise<void> {
    this.#q.lease.run(0, tenant, key);
  }

  async list(feed: FeedRef, query: ListQuery, now: number): Promise<ListPage> {
    // Reads need no transaction: node:sqlite is synchronous and this process is the only writer,
    // so nothing can interleave between the two statements.
    const counts = this.#touch(feed.tenant, feed.user, now);
    const rows = this.#listStatement(query).all(
      feed.tenant,
      feed.user,
      query.before ?? Number.MAX_SAFE_INTEGER,
      ...(query.category === null ? [] : [query.category]),
      query.limit + 1,
    ) as unknown as ListRow[];
    const more = rows.length > query.limit;
    if (more) rows.pop();
    const items = rows.map(([, content, seenAt, readAt, archivedAt]) => ({ content, seenAt, readAt, archivedAt }));
    return { items, next: more ? (rows.at(-1)?.[0] ?? null) : null, counts };
  }

  async counts(feed: FeedRef, now: number): Promise<Counts> {
    return this.#touch(feed.tenant, feed.user, now);
  }

  async update(feed: FeedRef, id: string, patch: ItemPatch, now: number): Promise<FeedItem | null> {
    return this.#transaction(() => {
      this.#touch(feed.tenant, feed.user, now);
      const row = this.#q.item.get(feed.tenant, feed.user, id) as Row | undefined;
      if (!row) return null;
      const item = toItem(row);
      const next = applyPatch(item, patch, now);
      if (!next) return item;
      this.#setState(feed, row.seq, item, next);
      return { ...next, content: item.content };
    });
  }

  async mark(feed: FeedRef, action: MarkAction, ids: readonly string[] | null, now: number): Promise<number> {
    return this.#transaction(() => {
      this.#touch(feed.tenant, feed.user, now);
      const q = this.#q;
      const rows = (
        ids === null ? q.allItems.all(feed.tenant, feed.user) : q.itemsByIds.all(feed.tenant, feed.user, JSON.stringify(ids))
      ) as Row[];
      let updated = 0;
      for (const row of rows) {
        const state = toItem(row);
        const next = applyMark(state, action, now);
        if (next) {
          this.#setState(feed, row.seq, state, next);
          updated++;
        }
      }
      return updated;
    });
  }

  async remove(feed: FeedRef, id: string, now: number): Promise<boolean> {
    return this.#transaction(() => {
      this.#touch(feed.tenant, feed.user, now);
      const removed = this.#q.remove.all(feed.tenant, feed.user, id);
      this.#drop(feed.tenant, feed.user, removed);
      return removed.length > 0;
    });
  }

  async ping(): Promise<void> {
    this.#db.prepare("SELECT 1").get();
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
    if (this.#db.isOpen) this.#db.close();
  }

  /**
   * Purges the feed's expired items (only when its earliest expiry has passed) and returns its exact
   * counts; with `create`, makes the feed's row first. Outside a transaction the purge takes its own.
   */
  #touch(tenant: string, user: string, now: number, create = false): Counts {
    const q = this.#q;
    if (create) q.ensureFeed.run(tenant, user);
    let feed = q.feed.get(tenant, user) as (Counts & { next_expiry: number | null }) | undefined;
    if (!feed) return { total: 0, unread: 0, unseen: 0 };
    if (feed.next_expiry !== null && feed.next_expiry <= now) {
      const purge = () => {
        this.#drop(tenant, user, q.expired.all(tenant, user, now));
        q.resetExpiry.run(tenant, user);
      };
      if (this.#db.isTransaction) purge();
      else this.#transaction(purge);
      feed = q.feed.get(tenant, user) as Counts & { next_expiry: number | null };
    }
    return { total: feed.total, unread: feed.unread, unseen: feed.unseen };
  }

  /** Takes deleted rows out of the counts. */
  #drop(tenant: string, user: string, rows: Record<string, unknown>[]): void {
    if (rows.length === 0) return;
    let total = 0;
    let unread = 0;
    let unseen = 0;
    for (const row of rows as unknown as Row[]) {
      const [t, r, s] = countsOf(toState(row));
      total += t;
      unread += r;
      unseen += s;
    }
    this.#q.bump.get(0, -rows.length, -total, -unread, -unseen, tenant, user);
  }

  #setState(feed: FeedRef, seq: number, from: ItemState, to: ItemState): void {
    const [t0, r0, s0] = countsOf(from);
    const [t1, r1, s1] = countsOf(to);
    this.#q.setState.run(to.seenAt, to.readAt, to.archivedAt, feed.tenant, feed.user, seq);
    this.#q.bump.get(1, 0, t1 - t0, r1 - r0, s1 - s0, feed.tenant, feed.user);
  }

  /** One prepared statement per filter combination; there are at most 18. */
  #listStatement(query: ListQuery): StatementSync {
    const key = `${query.status}/${query.archived}/${query.category !== null}`;
    let statement = this.#listStatements.get(key);
    if (!statement) {
      const where = ["tenant = ?", "user = ?", "seq < ?"];
      if (query.archived === "exclude") where.push("archived_at IS NULL");
      if (query.archived === "only") where.push("archived_at IS NOT NULL");
      if (query.status === "unread") where.push("read_at IS NULL");
      if (query.status === "read") where.push("read_at IS NOT NULL");
      if (query.category !== null) where.push("category = ?");
      statement = this.#db.prepare(
        `SELECT seq, content, seen_at, read_at, archived_at FROM items WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ?`,
      );
      // Rows as arrays: node:sqlite builds an object per row otherwise (measured: a quarter of the query's cost).
      statement.setReturnArrays(true);
      this.#listStatements.set(key, statement);
    }
    return statement;
  }

  #transaction<T>(work: () => T): T {
    const q = this.#q;
    q.begin.run();
    try {
      const result = work();
      q.commit.run();
      return result;
    } catch (error) {
      if (this.#db.isTransaction) q.rollback.run();
      throw error;
    }
  }

  #sweepExpired(): void {
    const now = Date.now();
    this.#q.sweepIdempotency.run(now);
    this.#q.sweepDeliveries.run(now);
  }
}

function toState(row: { seen_at: number | null; read_at: number | null; archived_at: number | null }): ItemState {
  return { seenAt: row.seen_at, readAt: row.read_at, archivedAt: row.archived_at };
}

function toItem(row: Row): FeedItem {
  return { content: row.content, seenAt: row.seen_at, readAt: row.read_at, archivedAt: row.archived_at };
}
