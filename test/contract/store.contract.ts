import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FeedRef, ListQuery, NewNotification, Store } from "../../src/store/types.ts";

/**
 * The store contract: one suite, run unchanged against every adapter on a real store.
 * Each test works in a fresh tenant, so suites can share a store (and a shared Redis) safely.
 */
export type StoreFactory = (options: { feedMax: number }) => Promise<{ store: Store; cleanup: () => Promise<void> }>;

const T0 = Date.parse("2026-01-01T00:00:00Z");

export function notification(overrides: Partial<NewNotification> & { title?: string } = {}): NewNotification {
  const id = overrides.id ?? randomUUID();
  const createdAt = overrides.createdAt ?? T0;
  const category = overrides.category ?? null;
  const expiresAt = overrides.expiresAt ?? null;
  const content = JSON.stringify({ id, title: overrides.title ?? "hello", category, createdAt, expiresAt });
  return { id, createdAt, category, expiresAt, content };
}

const query = (q: Partial<ListQuery> = {}): ListQuery => ({
  limit: 20,
  before: null,
  status: "all",
  archived: "exclude",
  category: null,
  ...q,
});

const titles = (page: { items: { content: string }[] }) => page.items.map((i) => JSON.parse(i.content).title as string);

export function describeStoreContract(name: string, factory: StoreFactory): void {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    let small: Store;
    const cleanups: Array<() => Promise<void>> = [];
    const feed = (): FeedRef => ({ tenant: `t${randomUUID().slice(0, 8)}`, user: "alice" });
    const send = (f: FeedRef, n: NewNotification, now = T0, recipients = [f.user]) =>
      store.deliver(f.tenant, recipients, n, { now, dedupeMs: null });

    beforeAll(async () => {
      const big = await factory({ feedMax: 1000 });
      const tiny = await factory({ feedMax: 3 });
      store = big.store;
      small = tiny.store;
      cleanups.push(big.cleanup, tiny.cleanup);
    });
    afterAll(async () => {
      for (const cleanup of cleanups) await cleanup();
    });

    describe("happy", () => {
      it("lists a delivered notification newest first with exact counts", async () => {
        const f = feed();
        await send(f, notification({ title: "first" }));
        await send(f, notification({ title: "second" }));
        const page = await store.list(f, query(), T0);
        expect(titles(page)).toEqual(["second", "first"]);
        expect(page.counts).toEqual({ total: 2, unread: 2, unseen: 2 });
        expect(page.next).toBeNull();
        expect(page.items[0]).toMatchObject({ seenAt: null, readAt: null, archivedAt: null });
      });

      it("copies one notification into every recipient's feed under the same id", async () => {
        const f = feed();
        const n = notification();
        await store.deliver(f.tenant, ["a", "b", "c"], n, { now: T0, dedupeMs: null });
        for (const user of ["a", "b", "c"]) {
          const page = await store.list({ tenant: f.tenant, user }, query(), T0);
          expect(page.items.map((i) => JSON.parse(i.content).id)).toEqual([n.id]);
        }
      });

      it("returns the stored content byte for byte", async () => {
        const f = feed();
        const n = notification({ title: 'ünïcödé "quoted" \n line' });
        await send(f, n);
        const page = await store.list(f, query(), T0);
        expect(page.items[0]?.content).toBe(n.content);
      });

      it("paginates without skipping or repeating items while new ones arrive", async () => {
        const f = feed();
        for (let i = 0; i < 5; i++) await send(f, notification({ title: `n${i}` }));
        const first = await store.list(f, query({ limit: 2 }), T0);
        expect(titles(first)).toEqual(["n4", "n3"]);
        expect(first.next).not.toBeNull();
        await send(f, notification({ title: "late" }));
        const second = await store.list(f, query({ limit: 2, before: first.next }), T0);
        expect(titles(second)).toEqual(["n2", "n1"]);
        const third = await store.list(f, query({ limit: 2, before: second.next }), T0);
        expect(titles(third)).toEqual(["n0"]);
        expect(third.next).toBeNull();
      });

      it("filters by read status, archive state and category", async () => {
        const f = feed();
        const a = notification({ title: "a", category: "billing" });
        const b = notification({ title: "b", category: "social" });
        const c = notification({ title: "c", category: "billing" });
        for (const n of [a, b, c]) await send(f, n);
        await store.update(f, a.id, { read: true }, T0 + 1);
        await store.update(f, c.id, { archived: true }, T0 + 1);
        expect(titles(await store.list(f, query({ status: "unread" }), T0))).toEqual(["b"]);
        expect(titles(await store.list(f, query({ status: "read" }), T0))).toEqual(["a"]);
        expect(titles(await store.list(f, query({ archived: "only" }), T0))).toEqual(["c"]);
        expect(titles(await store.list(f, query({ archived: "include" }), T0))).toEqual(["c", "b", "a"]);
        expect(titles(await store.list(f, query({ archived: "include", status: "unread" }), T0))).toEqual(["c", "b"]);
        expect(titles(await store.list(f, query({ category: "billing" }), T0))).toEqual(["a"]);
        expect(titles(await store.list(f, query({ category: "billing", archived: "include" }), T0))).toEqual(["c", "a"]);
      });

      it("pages through a filtered list", async () => {
        const f = feed();
        for (let i = 0; i < 9; i++) await send(f, notification({ title: `n${i}`, category: i % 3 === 0 ? "x" : "y" }));
        const first = await store.list(f, query({ limit: 2, category: "x" }), T0);
        expect(titles(first)).toEqual(["n6", "n3"]);
        const second = await store.list(f, query({ limit: 2, category: "x", before: first.next }), T0);
        expect(titles(second)).toEqual(["n0"]);
        expect(second.next).toBeNull();
      });

      it("marks an item read, which also marks it seen, and keeps counts exact", async () => {
        const f = feed();
        const n = notification();
        await send(f, n);
        await send(f, notification());
        const item = await store.update(f, n.id, { read: true }, T0 + 5);
        expect(item).toMatchObject({ readAt: T0 + 5, seenAt: T0 + 5, archivedAt: null, content: n.content });
        expect(await store.counts(f, T0)).toEqual({ total: 2, unread: 1, unseen: 1 });
        const again = await store.update(f, n.id, { read: true }, T0 + 9);
        expect(again).toMatchObject({ readAt: T0 + 5, seenAt: T0 + 5 });
        expect(await store.counts(f, T0)).toEqual({ total: 2, unread: 1, unseen: 1 });
      });

      it("applies seen, unread, unseen and archive patches", async () => {
        const f = feed();
        const n = notification();
        await send(f, n);
        expect(await store.update(f, n.id, { seen: true }, T0 + 1)).toMatchObject({ seenAt: T0 + 1, readAt: null });
        expect(await store.counts(f, T0)).toEqual({ total: 1, unread: 1, unseen: 0 });
        expect(await store.update(f, n.id, { read: true }, T0 + 2)).toMatchObject({ seenAt: T0 + 1, readAt: T0 + 2 });
        expect(await store.update(f, n.id, { read: false }, T0 + 3)).toMatchObject({ seenAt: T0 + 1, readAt: null });
        expect(await store.update(f, n.id, { read: true }, T0 + 4)).toMatchObject({ readAt: T0 + 4 });
        expect(await store.update(f, n.id, { seen: false }, T0 + 5)).toMatchObject({ seenAt: null, readAt: null });
        expect(await store.counts(f, T0)).toEqual({ total: 1, unread: 1, unseen: 1 });
        expect(await store.update(f, n.id, { archived: true }, T0 + 6)).toMatchObject({ archivedAt: T0 + 6 });
        expect(await store.counts(f, T0)).toEqual({ total: 0, unread: 0, unseen: 0 });
        expect(await store.update(f, n.id, { archived: false }, T0 + 7)).toMatchObject({ archivedAt: null });
        expect(await store.counts(f, T0)).toEqual({ total: 1, unread: 1, unseen: 1 });
      });

      it("marks the whole feed and counts only the items that changed", async () => {
        const f = feed();
        const ns = [notification(), notification(), notification()];
        for (const n of ns) await send(f, n);
        await store.update(f, ns[0]!.id, { read: true }, T0);
        expect(await store.mark(f, "read", null, T0 + 1)).toBe(2);
        expect(await store.mark(f, "read", null, T0 + 2)).toBe(0);
        expect(await store.counts(f, T0)).toEqual({ total: 3, unread: 0, unseen: 0 });
        expect(await store.mark(f, "unread", [ns[1]!.id, "missing"], T0 + 3)).toBe(1);
        expect(await store.counts(f, T0)).toEqual({ total: 3, unread: 1, unseen: 0 });
        expect(await store.mark(f, "archive", null, T0 + 4)).toBe(3);
        expect(await store.counts(f, T0)).toEqual({ total: 0, unread: 0, unseen: 0 });
        expect(await store.mark(f, "unarchive", [ns[2]!.id], T0 + 5)).toBe(1);
        expect(await store.counts(f, T0)).toEqual({ total: 1, unread: 0, unseen: 0 });
        expect(await store.mark(f, "read", null, T0 + 6)).toBe(1);
      });

      it("marks archived items too when marking the whole feed", async () => {
        const f = feed();
        const n = notification();
        await send(f, n);
        await store.update(f, n.id, { archived: true }, T0);
        expect(await store.mark(f, "seen", null, T0 + 1)).toBe(1);
        expect(await store.mark(f, "read", null, T0 + 1)).toBe(1);
        expect(await store.update(f, n.id, { archived: false }, T0 + 2)).toMatchObject({ readAt: T0 + 1, seenAt: T0 + 1 });
        expect(await store.counts(f, T0)).toEqual({ total: 1, unread: 0, unseen: 0 });
      });

      it("deletes an item once", async () => {
        const f = feed();
        const n = notification();
        await send(f, n);
        await send(f, notification());
        expect(await store.remove(f, n.id, T0)).toBe(true);
        expect(await store.remove(f, n.id, T0)).toBe(false);
        expect(await store.counts(f, T0)).toEqual({ total: 1, unread: 1, unseen: 1 });
        expect(await store.update(f, n.id, { read: true }, T0)).toBeNull();
      });
    });

    describe("retention", () => {
      it("hides expired items from lists and counts", async () => {
        const f = feed();
        await send(f, notification({ title: "short", expiresAt: T0 + 1000 }));
        await send(f, notification({ title: "long", expiresAt: T0 + 60_000 }));
        await send(f, notification({ title: "forever" }));
        expect(await store.counts(f, T0 + 999)).toEqual({ total: 3, unread: 3, unseen: 3 });
        const page = await store.list(f, query(), T0 + 1000);
        expect(titles(page)).toEqual(["forever", "long"]);
        expect(page.counts).toEqual({ total: 2, unread: 2, unseen: 2 });
        expect(await store.counts(f, T0 + 60_000)).toEqual({ total: 1, unread: 1, unseen: 1 });
      });

      it("keeps expired archived and read items out of the counts exactly", async () => {
        const f = feed();
        const a = notification({ expiresAt: T0 + 10 });
        const b = notification({ expiresAt: T0 + 10 });
        await send(f, a);
        await send(f, b);
        await store.update(f, a.id, { archived: true }, T0 + 1);
        await store.update(f, b.id, { read: true }, T0 + 1);
        expect(await store.counts(f, T0 + 5)).toEqual({ total: 1, unread: 0, unseen: 0 });
        expect(await store.counts(f, T0 + 10)).toEqual({ total: 0, unread: 0, unseen: 0 });
        await send(f, notification());
        expect(await store.counts(f, T0 + 11)).toEqual({ total: 1, unread: 1, unseen: 1 });
      });

      it("does not insert a notification that has already expired", async () => {
        const f = feed();
        await send(f, notification({ expiresAt: T0 - 1 }));
        expect(await store.counts(f, T0)).toEqual({ total: 0, unread: 0, unseen: 0 });
      });

      it("trims a feed to its cap, oldest first, with exact counts", async () => {
        const f = feed();
        const ns = Array.from({ length: 5 }, (_, i) => notification({ title: `n${i}` }));
        await small.deliver(f.tenant, [f.user], ns[0]!, { now: T0, dedupeMs: null });
        await small.update(f, ns[0]!.id, { read: true }, T0);
        await small.deliver(f.tenant, [f.user], ns[1]!, { now: T0, dedupeMs: null });
        await small.update(f, ns[1]!.id, { archived: true }, T0);
        for (const n of ns.slice(2)) await small.deliver(f.tenant, [f.user], n, { now: T0, dedupeMs: null });
        const page = await small.list(f, query({ archived: "include" }), T0);
        expect(titles(page)).toEqual(["n4", "n3", "n2"]);
        expect(page.counts).toEqual({ total: 3, unread: 3, unseen: 3 });
      });
    });

    describe("idempotency", () => {
      it("delivers at most once per recipient and id when deduplicating, even after a delete", async () => {
        const f = feed();
        const n = notification();
        const opts = { now: T0, dedupeMs: 60_000 };
        await store.deliver(f.tenant, ["alice", "bob"], n, opts);
        await store.deliver(f.tenant, ["alice", "bob"], n, opts);
        expect(await store.counts(f, T0)).toEqual({ total: 1, unread: 1, unseen: 1 });
        await store.remove(f, n.id, T0);
        await store.deliver(f.tenant, ["alice", "bob"], n, opts);
        expect(await store.counts(f, T0)).toEqual({ total: 0, unread: 0, unseen: 0 });
        expect(await store.counts({ tenant: f.tenant, user: "bob" }, T0)).toEqual({ total: 1, unread: 1, unseen: 1 });
      });

      it("reserves a key, reports it in flight, replays it when done and rejects another request", async () => {
        const { tenant } = feed();
        const claim = { fingerprint: "fp1", id: "id-1", createdAt: T0, now: T0, leaseMs: 5000, ttlMs: 86_400_000 };
        expect(await store.reserveIdempotency(tenant, "k", claim)).toEqual({ state: "new" });
        expect(await store.reserveIdempotency(tenant, "k", { ...claim, id: "id-2", now: T0 + 1 })).toEqual({ state: "in-flight" });
        expect(await store.reserveIdempotency(tenant, "k", { ...claim, fingerprint: "fp2" })).toEqual({ state: "mismatch" });
        await store.completeIdempotency(tenant, "k");
        expect(await store.reserveIdempotency(tenant, "k", { ...claim, id: "id-3", now: T0 + 2 })).toEqual({
          state: "done",
          id: "id-1",
          createdAt: T0,
        });
        expect(await store.reserveIdempotency(tenant, "other", claim)).toEqual({ state: "new" });
      });

      it("lets a retry resume an attempt whose lease ran out or was released", async () => {
        const { tenant } = feed();
        const claim = { fingerprint: "fp", id: "first", createdAt: T0, now: T0, leaseMs: 5000, ttlMs: 86_400_000 };
        expect(await store.reserveIdempotency(tenant, "k", claim)).toEqual({ state: "new" });
        const later = { ...claim, id: "second", createdAt: T0 + 6000, now: T0 + 6000 };
        expect(await store.reserveIdempotency(tenant, "k", later)).toEqual({ state: "resume", id: "first", createdAt: T0 });
        expect(await store.reserveIdempotency(tenant, "k", { ...later, now: T0 + 6001 })).toEqual({ state: "in-flight" });
        await store.releaseIdempotency(tenant, "k");
        expect(await store.reserveIdempotency(tenant, "k", { ...later, now: T0 + 6002 })).toEqual({
          state: "resume",
          id: "first",
          createdAt: T0,
        });
      });
    });

    describe("security", () => {
      it("keeps tenants apart even for the same user id", async () => {
        const a = feed();
        const b = { tenant: `${a.tenant}x`, user: a.user };
        const n = notification();
        await send(a, n);
        expect((await store.list(b, query(), T0)).items).toEqual([]);
        expect(await store.update(b, n.id, { read: true }, T0)).toBeNull();
        expect(await store.remove(b, n.id, T0)).toBe(false);
        expect(await store.mark(b, "read", null, T0)).toBe(0);
        expect(await store.counts(a, T0)).toEqual({ total: 1, unread: 1, unseen: 1 });
      });

      it("treats user ids with separators as distinct users", async () => {
        const f = feed();
        await store.deliver(f.tenant, ["a:b"], notification(), { now: T0, dedupeMs: null });
        expect(await store.counts({ tenant: f.tenant, user: "a" }, T0)).toEqual({ total: 0, unread: 0, unseen: 0 });
        expect(await store.counts({ tenant: f.tenant, user: "a:b" }, T0)).toEqual({ total: 1, unread: 1, unseen: 1 });
      });
    });
  });
}
