import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, expectProblem, expectStatus, type TestApp } from "../support/app.ts";

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.close());

const send = (body: unknown, headers: Record<string, string> = {}) => t.call("POST", "/v1/notifications", { body, headers });

describe("POST /v1/notifications", () => {
  describe("happy", () => {
    it("delivers one notification into every recipient's feed under one id", async () => {
      const res = await send({
        recipients: ["ann", "ben", "ann"],
        title: "Invoice ready",
        body: "Your March invoice",
        category: "billing",
        data: { invoiceId: "inv_1", amount: 12.5, nested: { list: [1, "two", null], empty: {} } },
        actionUrl: "https://example.com/invoices/1",
      });
      expectStatus(res, 201);
      expect(res.body).toEqual({ id: expect.any(String), recipients: 2, createdAt: expect.any(String) });
      for (const user of ["ann", "ben"]) {
        const feed = await t.call("GET", `/v1/users/${user}/notifications`);
        expectStatus(feed, 200);
        expect(feed.body.items).toEqual([
          {
            id: res.body.id,
            title: "Invoice ready",
            body: "Your March invoice",
            category: "billing",
            data: { invoiceId: "inv_1", amount: 12.5, nested: { list: [1, "two", null], empty: {} } },
            actionUrl: "https://example.com/invoices/1",
            createdAt: res.body.createdAt,
            expiresAt: null,
            seenAt: null,
            readAt: null,
            archivedAt: null,
          },
        ]);
      }
    });

    it("accepts 1,000 recipients in one call", async () => {
      const recipients = Array.from({ length: 1000 }, (_, i) => `bulk-${i}`);
      const res = await send({ recipients, title: "Broadcast" });
      expectStatus(res, 201);
      expect(res.body.recipients).toBe(1000);
      const counts = await t.call("GET", "/v1/users/bulk-999/notifications/counts");
      expect(counts.body).toEqual({ total: 1, unread: 1, unseen: 1 });
    });
  });

  describe("error", () => {
    it("rejects invalid fields with 400 and one entry per field", async () => {
      const res = await send({
        recipients: ["ok", "not ok!"],
        title: "",
        data: [1],
        actionUrl: "nope",
        expiresAt: "tomorrow",
        extra: true,
      });
      expectProblem(res, 400);
      const paths = res.body.errors.map((e: { path: string }) => e.path).sort();
      expect(paths).toEqual(expect.arrayContaining(["body.recipients.1", "body.title", "body.data", "body.actionUrl", "body.expiresAt"]));
      for (const e of res.body.errors) expect(e.message).toEqual(expect.any(String));
    });

    it("rejects more than 1,000 recipients", async () => {
      const res = await send({ recipients: Array.from({ length: 1001 }, (_, i) => `u${i}`), title: "x" });
      expectProblem(res, 400);
      expect(res.body.errors[0].path).toBe("body.recipients");
    });

    it("rejects data larger than 8 KiB", async () => {
      const res = await send({ recipients: ["a"], title: "x", data: { blob: "x".repeat(8200) } });
      expectProblem(res, 400);
      expect(res.body.errors[0].path).toBe("body.data");
    });

    it("rejects an empty body, malformed JSON and a non-JSON content type", async () => {
      expectProblem(await t.call("POST", "/v1/notifications"), 400);
      expectProblem(await send("{not json"), 400);
      expectProblem(await t.call("POST", "/v1/notifications", { body: "a=b", headers: { "content-type": "text/plain" } }), 415);
    });

    it("rejects a body over the size limit with 413", async () => {
      const res = await send({ recipients: ["a"], title: "x", body: "y".repeat(70 * 1024) });
      expectProblem(res, 413);
    });

    it("rejects an Idempotency-Key longer than 255 characters", async () => {
      const res = await send({ recipients: ["a"], title: "x" }, { "idempotency-key": "k".repeat(256) });
      expectProblem(res, 400);
      expect(res.body.errors[0].path).toBe("header.idempotency-key");
    });
  });
});
