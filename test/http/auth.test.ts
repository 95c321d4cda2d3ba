import { createHmac } from "node:crypto";
import { sign } from "hono/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, expectProblem, expectStatus, OTHER_KEY, type TestApp, TOKEN_SECRET } from "../support/app.ts";

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.close());

async function tokenFor(user: string): Promise<string> {
  const res = await t.call("POST", `/v1/users/${user}/tokens`);
  expectStatus(res, 201);
  expect(Date.parse(res.body.expiresAt) - Date.now()).toBeGreaterThan(3500_000);
  return res.body.token;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("authentication", () => {
  describe("happy", () => {
    it("lets a user token read and change its own feed", async () => {
      const sent = await t.call("POST", "/v1/notifications", { body: { recipients: ["alice"], title: "hi" } });
      const token = await tokenFor("alice");
      const feed = await t.call("GET", "/v1/users/alice/notifications", { key: token });
      expectStatus(feed, 200);
      expect(feed.body.items[0].id).toBe(sent.body.id);
      expectStatus(await t.call("PATCH", `/v1/users/alice/notifications/${sent.body.id}`, { key: token, body: { read: true } }), 200);
      expectStatus(await t.call("POST", "/v1/users/alice/notifications/mark", { key: token, body: { action: "archive" } }), 200);
      expectStatus(await t.call("GET", "/v1/users/alice/notifications/counts", { key: token }), 200);
      expectStatus(await t.call("DELETE", `/v1/users/alice/notifications/${sent.body.id}`, { key: token }), 204);
    });
  });

  describe("error", () => {
    it("answers 401 without credentials or with an unknown key", async () => {
      expectProblem(await t.call("GET", "/v1/users/alice/notifications", { key: null }), 401);
      expectProblem(await t.call("GET", "/v1/users/alice/notifications", { key: "not-a-real-key-at-all" }), 401);
      expectProblem(await t.call("GET", "/v1/users/alice/notifications", { headers: { authorization: "Basic abc" }, key: null }), 401);
    });

    it("answers 401 for an expired token, another secret, alg none and garbage", async () => {
      const now = Math.floor(Date.now() / 1000);
      const expired = await sign({ sub: "alice", tnt: "acme", iat: now - 7200, exp: now - 3600 }, TOKEN_SECRET, "HS256");
      const foreign = await sign(
        { sub: "alice", tnt: "acme", iat: now, exp: now + 3600 },
        "another-secret-another-secret-another",
        "HS256",
      );
      const none = `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "alice", tnt: "acme", exp: now + 3600 })}.`;
      const header = b64({ alg: "HS512", typ: "JWT" });
      const payload = b64({ sub: "alice", tnt: "acme", exp: now + 3600 });
      const hs512 = `${header}.${payload}.${createHmac("sha512", TOKEN_SECRET).update(`${header}.${payload}`).digest("base64url")}`;
      for (const token of [expired, foreign, none, hs512, "a.b.c", "garbage.garbage.garbage"]) {
        const res = await t.call("GET", "/v1/users/alice/notifications", { key: token });
        expectProblem(res, 401);
      }
    });
  });

  describe("security", () => {
    it("a user token cannot read another user's feed", async () => {
      const token = await tokenFor("alice");
      for (const [method, path] of [
        ["GET", "/v1/users/bob/notifications"],
        ["GET", "/v1/users/bob/notifications/counts"],
        ["DELETE", "/v1/users/bob/notifications/x"],
      ] as const) {
        expectProblem(await t.call(method, path, { key: token }), 403);
      }
      expectProblem(await t.call("POST", "/v1/users/bob/notifications/mark", { key: token, body: { action: "read" } }), 403);
    });

    it("a user token cannot send or mint tokens", async () => {
      const token = await tokenFor("alice");
      expectProblem(await t.call("POST", "/v1/notifications", { key: token, body: { recipients: ["alice"], title: "x" } }), 403);
      expectProblem(await t.call("POST", "/v1/users/alice/tokens", { key: token }), 403);
    });

    it("one tenant's key never sees another tenant's data", async () => {
      const sent = await t.call("POST", "/v1/notifications", { body: { recipients: ["shared-id"], title: "acme only" } });
      const other = await t.call("GET", "/v1/users/shared-id/notifications", { key: OTHER_KEY });
      expectStatus(other, 200);
      expect(other.body.items).toEqual([]);
      expectProblem(
        await t.call("PATCH", `/v1/users/shared-id/notifications/${sent.body.id}`, { key: OTHER_KEY, body: { read: true } }),
        404,
      );
      expectProblem(await t.call("DELETE", `/v1/users/shared-id/notifications/${sent.body.id}`, { key: OTHER_KEY }), 404);
      expect((await t.call("POST", "/v1/users/shared-id/notifications/mark", { key: OTHER_KEY, body: { action: "read" } })).body).toEqual({
        updated: 0,
      });
      expect((await t.call("GET", "/v1/users/shared-id/notifications/counts")).body).toEqual({ total: 1, unread: 1, unseen: 1 });
    });

    it("a user token of one tenant cannot read the same user id in another tenant", async () => {
      await t.call("POST", "/v1/notifications", { key: OTHER_KEY, body: { recipients: ["carol"], title: "globex" } });
      const acmeToken = await tokenFor("carol");
      const feed = await t.call("GET", "/v1/users/carol/notifications", { key: acmeToken });
      expect(feed.body.items).toEqual([]);
    });
  });
});
