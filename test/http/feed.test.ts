import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRedisStore } from "../../src/store/redis/redis-store.ts";
import type { Store } from "../../src/store/types.ts";
import { buildTestApp, expectProblem, expectStatus, type TestApp } from "../support/app.ts";

/** The feed's HTTP behaviour, on the embedded store and on a real Redis. */
const stores: Record<string, (() => Promise<Store>) | undefined> = {
  sqlite: undefined,
  redis: () =>
    openRedisStore({
      url: process.env.HERALD_TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
      feedMax: 5,
      timeoutMs: 1000,
    }),
};

describe.each(Object.keys(stores))("on %s", (storeName) => {
  let t: TestApp;
  let redis: Store | undefined;
  let clock = Date.parse("2026-03-01T12:00:00Z");
  beforeAll(async () => {
    redis = await stores[storeName]?.();
    t = await buildTestApp({ feedMax: 5, now: () => clock, store: redis });
  });
  afterAll(async () => {
    await t.close();
    await redis?.close();
  });

  const run = randomUUID().slice(0, 8);
  let userSeq = 0;
  const newUser = () => `user-${run}-${++userSeq}`;
  async function send(user: string, title: string, extra: Record<string, unknown> = {}): Promise<string> {
    const res = await t.call("POST", "/v1/notifications", {
      body: { recipients: [user], title, ...extra },
    });
    expectStatus(res, 201);
    return res.body.id;
  }
  const feedPath = (user: string) => `/v1/users/${user}/notifications`;
  const counts = async (user: string) => (await t.call("GET", `${feedPath(user)}/counts`)).body;

  describe("the feed", () => {
    describe("happy", () => {
      it("pages newest first with a cursor and stays stable while items arrive", async () => {
        const u = newUser();
        for (const n of ["a", "b", "c", "d"]) await send(u, n);
        const first = await t.call("GET", `${feedPath(u)}?limit=3`);
        expectStatus(first, 200);
        expect(first.body.items.map((i: { title: string }) => i.title)).toEqual(["d", "c", "b"]);
        expect(first.body.counts).toEqual({ total: 4, unread: 4, unseen: 4 });
        await send(u, "e");
        const second = await t.call("GET", `${feedPath(u)}?limit=3&cursor=${first.body.nextCursor}`);
        expect(second.body.items.map((i: { title: string }) => i.title)).toEqual(["a"]);
        expect(second.body.nextCursor).toBeNull();
      });

      it("marks one item read with PATCH, which also marks it seen, idempotently", async () => {
        const u = newUser();
        const id = await send(u, "a");
        await send(u, "b");
        const res = await t.call("PATCH", `${feedPath(u)}/${id}`, {
          body: { read: true },
        });
        expectStatus(res, 200);
        expect(res.body).toMatchObject({
          id,
          readAt: new Date(clock).toISOString(),
          seenAt: new Date(clock).toISOString(),
        });
        const again = await t.call("PATCH", `${feedPath(u)}/${id}`, {
          body: { read: true },
        });
        expect(again.body).toEqual(res.body);
        expect(await counts(u)).toEqual({ total: 2, unread: 1, unseen: 1 });
      });

      it("filters by status, archive state and category", async () => {
        const u = newUser();
        const a = await send(u, "a", { category: "billing" });
        await send(u, "b", { category: "social" });
        const c = await send(u, "c", { category: "billing" });
        await t.call("PATCH", `${feedPath(u)}/${a}`, { body: { read: true } });
        await t.call("PATCH", `${feedPath(u)}/${c}`, {
          body: { archived: true },
        });
        const titles = async (q: string) => (await t.call("GET", `${feedPath(u)}?${q}`)).body.items.map((i: { title: string }) => i.title);
        expect(await titles("status=unread")).toEqual(["b"]);
        expect(await titles("status=read")).toEqual(["a"]);
        expect(await titles("archived=only")).toEqual(["c"]);
        expect(await titles("archived=include")).toEqual(["c", "b", "a"]);
        expect(await titles("category=billing&archived=include")).toEqual(["c", "a"]);
      });

      it("marks all and reports how many items changed", async () => {
        const u = newUser();
        const ids = [await send(u, "a"), await send(u, "b"), await send(u, "c")];
        const seen = await t.call("POST", `${feedPath(u)}/mark`, {
          body: { action: "seen", ids: [ids[0]] },
        });
        expect(seen.body).toEqual({ updated: 1 });
        const read = await t.call("POST", `${feedPath(u)}/mark`, {
          body: { action: "read" },
        });
        expectStatus(read, 200);
        expect(read.body).toEqual({ updated: 3 });
        expect(
          (
            await t.call("POST", `${feedPath(u)}/mark`, {
              body: { action: "read" },
            })
          ).body,
        ).toEqual({ updated: 0 });
        expect(await counts(u)).toEqual({ total: 3, unread: 0, unseen: 0 });
        expect(
          (
            await t.call("POST", `${feedPath(u)}/mark`, {
              body: { action: "archive", ids },
            })
          ).body,
        ).toEqual({ updated: 3 });
        expect(await counts(u)).toEqual({ total: 0, unread: 0, unseen: 0 });
      });

      it("deletes an item with 204, then 404", async () => {
        const u = newUser();
        const id = await send(u, "a");
        expectStatus(await t.call("DELETE", `${feedPath(u)}/${id}`), 204);
        expectProblem(await t.call("DELETE", `${feedPath(u)}/${id}`), 404);
        expect(await counts(u)).toEqual({ total: 0, unread: 0, unseen: 0 });
      });

      it("keeps counts exact through sends, marks, deletes, expiry and trimming", async () => {
        const u = newUser();
        const soon = new Date(clock + 60_000).toISOString();
        const x1 = await send(u, "x1", { expiresAt: soon });
        const x2 = await send(u, "x2", { expiresAt: soon });
        const k1 = await send(u, "k1");
        await t.call("PATCH", `${feedPath(u)}/${x1}`, { body: { read: true } });
        await t.call("PATCH", `${feedPath(u)}/${x2}`, {
          body: { archived: true },
        });
        await t.call("PATCH", `${feedPath(u)}/${k1}`, { body: { seen: true } });
        expect(await counts(u)).toEqual({ total: 2, unread: 1, unseen: 0 });
        clock += 60_000;
        expect(await counts(u)).toEqual({ total: 1, unread: 1, unseen: 0 });
        // The feed cap is 5: six more sends drop k1 and the oldest of the new ones.
        for (let i = 0; i < 6; i++) await send(u, `n${i}`);
        const page = await t.call("GET", `${feedPath(u)}?archived=include`);
        expect(page.body.items.map((i: { title: string }) => i.title)).toEqual(["n5", "n4", "n3", "n2", "n1"]);
        expect(page.body.counts).toEqual({ total: 5, unread: 5, unseen: 5 });
        const del = page.body.items[0].id;
        await t.call("DELETE", `${feedPath(u)}/${del}`);
        await t.call("POST", `${feedPath(u)}/mark`, {
          body: { action: "read", ids: [page.body.items[1].id] },
        });
        expect(await counts(u)).toEqual({ total: 4, unread: 3, unseen: 3 });
      });
    });

    describe("error", () => {
      it("rejects out-of-range and malformed list parameters with field errors", async () => {
        for (const q of ["limit=0", "limit=101", "limit=abc", "status=new", "archived=yes", "cursor=garbage", "category=no%20spaces"]) {
          const res = await t.call("GET", `${feedPath("someone")}?${q}`);
          expectProblem(res, 400);
          expect(res.body.errors[0].path, q).toMatch(/^query\./);
        }
      });

      it("rejects an invalid user id", async () => {
        expectProblem(await t.call("GET", "/v1/users/bad%20user/notifications"), 400);
      });

      it("answers 404 for a PATCH of a missing item", async () => {
        expectProblem(
          await t.call("PATCH", `${feedPath("someone")}/missing`, {
            body: { read: true },
          }),
          404,
        );
      });

      it("rejects empty, unknown and contradictory patches", async () => {
        const u = newUser();
        const id = await send(u, "a");
        for (const body of [{}, { read: "yes" }, { pinned: true }, { read: true, seen: false }]) {
          expectProblem(await t.call("PATCH", `${feedPath(u)}/${id}`, { body }), 400);
        }
      });

      it("rejects unknown mark actions and more than 1,000 ids", async () => {
        expectProblem(
          await t.call("POST", `${feedPath("x")}/mark`, {
            body: { action: "explode" },
          }),
          400,
        );
        const ids = Array.from({ length: 1001 }, (_, i) => `id${i}`);
        expectProblem(
          await t.call("POST", `${feedPath("x")}/mark`, {
            body: { action: "read", ids },
          }),
          400,
        );
      });

      it("answers unknown routes with a 404 problem", async () => {
        expectProblem(await t.call("GET", "/v1/nope"), 404);
      });
    });
  });
});
