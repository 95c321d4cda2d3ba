import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp, expectProblem, expectStatus, type TestApp } from "../support/app.ts";

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.close());

let n = 0;
const key = () => `key-${Date.now()}-${++n}`;
const send = (body: unknown, idempotencyKey: string) =>
  t.call("POST", "/v1/notifications", { body, headers: { "idempotency-key": idempotencyKey } });

describe("Idempotency-Key", () => {
  it("replays the first response and inserts nothing on a retry", async () => {
    const k = key();
    const body = { recipients: ["idem-a", "idem-b"], title: "once" };
    const first = await send(body, k);
    expectStatus(first, 201);
    const retry = await send(body, k);
    expectStatus(retry, 201);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    for (const user of ["idem-a", "idem-b"]) {
      expect((await t.call("GET", `/v1/users/${user}/notifications/counts`)).body).toEqual({ total: 1, unread: 1, unseen: 1 });
    }
  });

  it("answers 422 when the key is reused with a different body", async () => {
    const k = key();
    expectStatus(await send({ recipients: ["idem-c"], title: "one" }, k), 201);
    expectProblem(await send({ recipients: ["idem-c"], title: "two" }, k), 422);
  });

  it("answers 409 with Retry-After while the first request is in flight, then replays", async () => {
    const k = key();
    const recipients = Array.from({ length: 1000 }, (_, i) => `inflight-${i}`);
    const body = { recipients, title: "big" };
    const [a, b] = await Promise.all([send(body, k), send(body, k)]);
    const statuses = [a.status, b.status].sort();
    expect(statuses, `${a.text} ${b.text}`).toEqual([201, 409]);
    const conflict = a.status === 409 ? a : b;
    expectProblem(conflict, 409);
    expect(conflict.headers.get("retry-after")).toBe("1");
    const later = await send(body, k);
    expectStatus(later, 201);
    expect(later.body.id).toBe((a.status === 201 ? a : b).body.id);
    expect((await t.call("GET", "/v1/users/inflight-500/notifications/counts")).body.total).toBe(1);
  });

  it("scopes keys per tenant", async () => {
    const k = key();
    const body = { recipients: ["idem-d"], title: "same key, two tenants" };
    const acme = await send(body, k);
    const globex = await t.call("POST", "/v1/notifications", {
      key: "globex-key-0123456789abcdef",
      body,
      headers: { "idempotency-key": k },
    });
    expectStatus(globex, 201);
    expect(globex.body.id).not.toBe(acme.body.id);
  });
});
