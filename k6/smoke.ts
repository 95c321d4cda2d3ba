/**
 * Smoke: 1 VU, one iteration, every endpoint once, with checks on status and body. A pass means
 * the deployment is wired correctly (auth, store, every route); it says nothing about speed.
 *
 *   k6 run -e BASE_URL=https://herald.example.com -e API_KEY=... k6/smoke.ts
 */
import { check, fail } from "k6";
import http, { type RefinedResponse, type ResponseType } from "k6/http";
import { API_KEY, authHeaders, BASE_URL, type SummaryData, summaryOutputs } from "./lib.ts";
import { makePayload, Rng } from "./workload.ts";

export const options = {
  vus: 1,
  iterations: 1,
  thresholds: { checks: ["rate==1"], http_req_failed: ["rate==0"] },
};

// The smoke test provokes these errors on purpose; any other status counts as a failed request.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 400, 401, 403, 404, 422));

type Res = RefinedResponse<ResponseType | undefined>;

function json(r: Res): Record<string, unknown> {
  try {
    const v = r.json();
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function isCounts(v: unknown): boolean {
  const c = v as Record<string, unknown> | null;
  return !!c && typeof c.total === "number" && typeof c.unread === "number" && typeof c.unseen === "number";
}

const jsonHeaders = (extra?: Record<string, string>) => authHeaders({ "Content-Type": "application/json", ...extra });

export default function smoke(): void {
  if (!API_KEY) fail("API_KEY is required");
  const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const alice = `smoke-${run}-a`;
  const bob = `smoke-${run}-b`;
  const feed = (u: string) => `${BASE_URL}/v1/users/${u}/notifications`;
  const rng = new Rng(Date.now() >>> 0);

  // Operations endpoints
  check(http.get(`${BASE_URL}/livez`), { "livez 200": (r) => r.status === 200 });
  check(http.get(`${BASE_URL}/readyz`), { "readyz 200": (r) => r.status === 200 });
  check(http.get(`${BASE_URL}/metrics`), {
    "metrics 200": (r) => r.status === 200,
    "metrics is prometheus text": (r) => String(r.body).includes("# TYPE"),
  });
  check(http.get(`${BASE_URL}/openapi.json`), {
    "openapi 200": (r) => r.status === 200,
    "openapi documents /v1/notifications": (r) => {
      const paths = json(r).paths as Record<string, unknown> | undefined;
      return !!paths && Object.keys(paths).some((p) => p.startsWith("/v1/notifications"));
    },
  });
  check(http.get(`${BASE_URL}/docs`), { "docs 200": (r) => r.status === 200 });

  // Auth
  check(http.get(feed(alice)), {
    "no key → 401 problem+json": (r) => r.status === 401 && String(r.headers["Content-Type"]).includes("problem+json"),
  });

  // Send, with an Idempotency-Key, and replay it
  const key = `smoke-${run}-1`;
  const first = { recipients: [alice, bob], ...makePayload(rng), category: "smoke" };
  const sent = http.post(`${BASE_URL}/v1/notifications`, JSON.stringify(first), { headers: jsonHeaders({ "Idempotency-Key": key }) });
  const sentBody = json(sent);
  check(sent, {
    "send 201": (r) => r.status === 201,
    "send answers {id, recipients: 2, createdAt}": () =>
      typeof sentBody.id === "string" && sentBody.recipients === 2 && typeof sentBody.createdAt === "string",
  });
  const id = String(sentBody.id);
  const replay = http.post(`${BASE_URL}/v1/notifications`, JSON.stringify(first), { headers: jsonHeaders({ "Idempotency-Key": key }) });
  check(replay, { "idempotent replay answers the same id": (r) => r.status === 201 && json(r).id === id });
  const conflict = http.post(`${BASE_URL}/v1/notifications`, JSON.stringify({ ...first, title: "changed" }), {
    headers: jsonHeaders({ "Idempotency-Key": key }),
  });
  check(conflict, { "same key, other body → 422": (r) => r.status === 422 });
  const second = http.post(
    `${BASE_URL}/v1/notifications`,
    JSON.stringify({ recipients: [alice], ...makePayload(rng), category: "other" }),
    { headers: jsonHeaders() },
  );
  const id2 = String(json(second).id);
  check(second, { "second send 201": (r) => r.status === 201 });
  check(http.post(`${BASE_URL}/v1/notifications`, JSON.stringify({ recipients: [], title: "" }), { headers: jsonHeaders() }), {
    "invalid send → 400 with errors": (r) => r.status === 400 && Array.isArray(json(r).errors),
  });

  // List and counts
  const list = http.get(`${feed(alice)}?limit=20`, { headers: authHeaders() });
  const listBody = json(list);
  const items = (listBody.items ?? []) as Array<Record<string, unknown>>;
  check(list, {
    "list 200": (r) => r.status === 200,
    "list has both items, newest first": () => items.length === 2 && items[0]?.id === id2 && items[1]?.id === id,
    "list items have the documented fields": () =>
      ["id", "title", "body", "category", "data", "actionUrl", "createdAt", "expiresAt", "seenAt", "readAt", "archivedAt"].every(
        (f) => items[0] !== undefined && f in items[0],
      ),
    "list counts 2 unread 2 unseen": () => {
      const c = listBody.counts as Record<string, unknown> | undefined;
      return !!c && c.total === 2 && c.unread === 2 && c.unseen === 2;
    },
  });
  const page = http.get(`${feed(alice)}?limit=1`, { headers: authHeaders() });
  const cursor = json(page).nextCursor;
  check(page, { "limit=1 gives a nextCursor": () => typeof cursor === "string" });
  if (typeof cursor === "string") {
    const page2 = http.get(`${feed(alice)}?limit=1&cursor=${encodeURIComponent(cursor)}`, { headers: authHeaders() });
    check(page2, {
      "cursor page 2 is the older item, last page": (r) => {
        const b = json(r);
        return r.status === 200 && (b.items as Array<{ id?: string }>)[0]?.id === id && b.nextCursor === null;
      },
    });
  }
  check(http.get(`${feed(alice)}?category=smoke&status=unread&archived=exclude`, { headers: authHeaders() }), {
    "category filter": (r) => r.status === 200 && (json(r).items as unknown[]).length === 1,
  });
  check(http.get(`${feed(alice)}?limit=1000`, { headers: authHeaders() }), { "limit out of range → 400": (r) => r.status === 400 });
  const counts = http.get(`${feed(alice)}/counts`, { headers: authHeaders() });
  check(counts, { "counts 200 {total, unread, unseen}": (r) => r.status === 200 && isCounts(json(r)) });

  // PATCH one item
  const patched = http.patch(`${feed(alice)}/${id}`, JSON.stringify({ read: true }), { headers: jsonHeaders() });
  check(patched, {
    "patch read 200": (r) => r.status === 200,
    "read implies seen": (r) => typeof json(r).readAt === "string" && typeof json(r).seenAt === "string",
  });
  check(http.get(`${feed(alice)}/counts`, { headers: authHeaders() }), {
    "counts after read: 1 unread": (r) => json(r).unread === 1 && json(r).unseen === 1,
  });
  check(http.patch(`${feed(alice)}/${id}`, JSON.stringify({ archived: true }), { headers: jsonHeaders() }), {
    "patch archive 200": (r) => r.status === 200 && typeof json(r).archivedAt === "string",
  });
  check(http.get(`${feed(alice)}?archived=only`, { headers: authHeaders() }), {
    "archived=only lists it": (r) => (json(r).items as unknown[]).length === 1,
  });

  // Bulk mark
  check(http.post(`${feed(alice)}/mark`, JSON.stringify({ action: "unarchive", ids: [id] }), { headers: jsonHeaders() }), {
    "mark unarchive {updated: 1}": (r) => r.status === 200 && json(r).updated === 1,
  });
  check(http.post(`${feed(alice)}/mark`, JSON.stringify({ action: "read" }), { headers: jsonHeaders() }), {
    "mark all read {updated: 1}": (r) => r.status === 200 && json(r).updated === 1,
  });
  check(http.post(`${feed(alice)}/mark`, JSON.stringify({ action: "seen" }), { headers: jsonHeaders() }), {
    "mark all seen again {updated: 0}": (r) => r.status === 200 && json(r).updated === 0,
  });

  // User tokens
  const tok = http.post(`${BASE_URL}/v1/users/${bob}/tokens`, null, { headers: authHeaders() });
  const token = json(tok).token;
  check(tok, {
    "token {token, expiresAt}": (r) =>
      (r.status === 200 || r.status === 201) && typeof token === "string" && typeof json(r).expiresAt === "string",
  });
  const asBob = { headers: { Authorization: `Bearer ${String(token)}` } };
  check(http.get(`${feed(bob)}`, asBob), {
    "user token reads its own feed": (r) => r.status === 200 && (json(r).items as unknown[]).length === 1,
  });
  check(http.get(`${feed(alice)}`, asBob), { "user token on another feed → 403": (r) => r.status === 403 });

  // Delete
  check(http.del(`${feed(alice)}/${id2}`, null, { headers: authHeaders() }), { "delete 204": (r) => r.status === 204 });
  check(http.del(`${feed(alice)}/${id2}`, null, { headers: authHeaders() }), { "delete again 404": (r) => r.status === 404 });
  check(http.get(`${feed(alice)}/counts`, { headers: authHeaders() }), { "counts after delete: total 1": (r: Res) => json(r).total === 1 });
}

export function handleSummary(data: SummaryData): Record<string, string> {
  return summaryOutputs("smoke", data);
}
