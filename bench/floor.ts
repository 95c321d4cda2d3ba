/**
 * The benchmark's floor (not shipped): the least a server can do to serve the workload of
 * k6/workload.ts with Herald's own store. A plain node:http server that makes the SAME store calls
 * as Herald (through src/store/index.ts `openStore`) for the benchmark's operations, with no
 * framework, no validation, no metrics, no logging, and auth by one string compare. It builds and
 * serializes notifications with Herald's own framework-free functions, so its responses have
 * Herald's status codes and bodies. bench/run.ts reports Herald's ops/s as a fraction of this.
 *
 * Serves: GET /readyz; GET /v1/users/{u}/notifications (limit only); GET …/notifications/counts;
 * PATCH …/notifications/{id}; POST /v1/notifications (with or without Idempotency-Key).
 * Reads PORT, HOST, HERALD_STORE_URL, HERALD_API_KEYS (tenant:key, the first pair),
 * HERALD_FEED_MAX, HERALD_STORE_TIMEOUT_MS.
 */
import { createHash, randomUUID } from "node:crypto";
import http from "node:http";
import { countsJson, feedPageJson, itemJson } from "../src/routes/feed/serialize.ts";
import { buildNotification } from "../src/routes/notifications/notification.ts";
import { openStore } from "../src/store/index.ts";

const env = process.env;
const [tenant = "bench", apiKey = ""] = (env.HERALD_API_KEYS ?? "").split(",")[0]?.split(":") ?? [];
const auth = `Bearer ${apiKey}`;
const store = await openStore({
  storeUrl: env.HERALD_STORE_URL ?? "sqlite:./data/floor.db",
  feedMax: Number(env.HERALD_FEED_MAX ?? 1000),
  storeTimeoutMs: Number(env.HERALD_STORE_TIMEOUT_MS ?? 1000),
});
const DAY_MS = 24 * 3600 * 1000;

function send(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((ok, fail) => {
    let s = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => (s += d));
    req.on("end", () => ok(s));
    req.on("error", fail);
  });
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = req.url ?? "/";
  if (url === "/readyz") {
    await store.ping();
    return send(res, 200, `{"status":"ready","store":"${store.kind}"}`);
  }
  if (req.headers.authorization !== auth) return send(res, 401, `{"title":"Authentication required","status":401}`);
  const now = Date.now();
  const q = url.indexOf("?");
  const parts = (q < 0 ? url : url.slice(0, q)).split("/"); // ["", "v1", "users", u, "notifications", x?]

  if (req.method === "POST" && url === "/v1/notifications") {
    const raw = await readBody(req);
    const body = JSON.parse(raw) as {
      recipients: string[];
      title: string;
      body?: string;
      category?: string;
      data?: Record<string, unknown>;
      actionUrl?: string;
    };
    const recipients = [...new Set(body.recipients)];
    const key = req.headers["idempotency-key"] as string | undefined;
    let id: string = randomUUID();
    let at = now;
    if (key !== undefined) {
      const fingerprint = createHash("sha256").update(raw).digest("base64url");
      const r = await store.reserveIdempotency(tenant, key, { fingerprint, id, createdAt: at, now, leaseMs: 5000, ttlMs: DAY_MS });
      if (r.state === "mismatch" || r.state === "in-flight")
        return send(res, r.state === "mismatch" ? 422 : 409, `{"status":"${r.state}"}`);
      if (r.state === "done" || r.state === "resume") ({ id, createdAt: at } = r);
      if (r.state === "done")
        return send(res, 201, `{"id":"${id}","recipients":${recipients.length},"createdAt":"${new Date(at).toISOString()}"}`);
    }
    const n = buildNotification(id, at, body);
    await store.deliver(tenant, recipients, n, { now, dedupeMs: key === undefined ? null : DAY_MS });
    if (key !== undefined) await store.completeIdempotency(tenant, key);
    return send(res, 201, `{"id":"${id}","recipients":${recipients.length},"createdAt":"${new Date(at).toISOString()}"}`);
  }

  if (parts[1] !== "v1" || parts[2] !== "users" || parts[4] !== "notifications" || !parts[3]) return send(res, 404, `{"status":404}`);
  const feed = { tenant, user: parts[3] };
  if (req.method === "GET" && parts.length === 5) {
    const limit = Number(/[?&]limit=(\d+)/.exec(url)?.[1] ?? 20);
    const page = await store.list(feed, { limit, before: null, status: "all", archived: "exclude", category: null }, now);
    return send(res, 200, feedPageJson(page));
  }
  if (req.method === "GET" && parts[5] === "counts") return send(res, 200, countsJson(await store.counts(feed, now)));
  if (req.method === "PATCH" && parts.length === 6) {
    const patch = JSON.parse(await readBody(req)) as { read?: boolean; seen?: boolean; archived?: boolean };
    const item = await store.update(feed, decodeURIComponent(parts[5] as string), patch, now);
    return item ? send(res, 200, itemJson(item)) : send(res, 404, `{"status":404}`);
  }
  return send(res, 404, `{"status":404}`);
}

const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  handle(req, res).catch((e: unknown) => send(res, 503, JSON.stringify({ status: 503, detail: String(e) })));
});
server.listen(Number(env.PORT ?? 3000), env.HOST ?? "127.0.0.1");
process.once("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  store.close().then(() => process.exit(0));
});
