/**
 * Scale-out proof on real processes: three Herald instances (`node src/main.js`) behind the real
 * HAProxy of deploy/haproxy.cfg (scripts/cluster.ts), on a private redis-server, under a bounded
 * load from eight undici keep-alive clients.
 *
 * 1. Requests through HAProxy spread over every instance; any instance reads what another wrote.
 * 2. SIGKILL one instance mid-load: clients that retry failed sends with the same Idempotency-Key
 *    and body end with every acknowledged notification in its recipient's feed exactly once.
 * 3. A rolling restart (SIGTERM, drain, start again, one instance at a time) under load: no GET
 *    fails and none is retried by the client (HAProxy redispatches connection failures); a POST may
 *    be retried by the client with its Idempotency-Key on a network error, 502 or 503 (HAProxy
 *    never replays a POST), and those retries are counted, reported, and reconciled with HAProxy's
 *    own 5xx counters.
 *
 * Ports: a random block in 20000-30000 per run (three instances, HAProxy, its stats page), so that
 * the file can run next to other tests.
 */
import { randomBytes, randomUUID } from "node:crypto";
import net from "node:net";
import { Pool, request } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import { type InstanceHandle, type LocalCluster, startLocalCluster } from "../../scripts/cluster.ts";
import { type RedisServer, startRedis } from "../support/redis.ts";

const API_KEY = `hk_scale_${randomBytes(18).toString("base64url")}`;
const CLIENTS = 8;
/** Every send is retried until acknowledged, but never more often, nor longer, than this. */
const MAX_SEND_ATTEMPTS = 40;
const SEND_DEADLINE_MS = 25_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let redis: RedisServer | undefined;
let cluster: LocalCluster;
let lb: Pool;

// ---------------------------------------------------------------------------------------------
// Ports and cluster

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const srv = net.createServer();
    srv.once("error", () => done(false));
    // HAProxy binds *:port, the instances 127.0.0.1:port; the wildcard bind checks both.
    srv.listen(port, "0.0.0.0", () => srv.close(() => done(true)));
  });
}

/** Five consecutive free ports (3 instances, HAProxy, stats) at a random base in 20000-30000. */
async function pickPortBlock(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 9_990);
    let free = true;
    for (let p = base; p < base + 5 && free; p++) free = await portFree(p);
    if (free) return base;
  }
  throw new Error("no block of 5 free ports found in 20000-30000");
}

beforeAll(async () => {
  redis = await startRedis();
  let lastError: unknown;
  // Another process may take a port between the check and the bind: try a new block.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const base = await pickPortBlock();
    try {
      cluster = await startLocalCluster({
        instances: 3,
        basePort: base,
        lbPort: base + 3,
        statsPort: base + 4,
        env: {
          NODE_ENV: "test",
          HERALD_STORE_URL: redis.url,
          HERALD_API_KEYS: `scale:${API_KEY}`,
          HERALD_TOKEN_SECRET: randomBytes(48).toString("base64url"),
          HERALD_LOG_LEVEL: "info",
          HERALD_FEED_MAX: "5000",
        },
      });
      break;
    } catch (error) {
      lastError = error;
    }
  }
  if (!cluster) throw lastError;
  lb = new Pool(cluster.url, { connections: CLIENTS, pipelining: 1 });
}, 90_000);

afterAll(async () => {
  await lb?.close();
  await cluster?.stop();
  await redis?.cleanup();
}, 60_000);

beforeEach(async () => {
  // A test that failed half way may have left an instance stopped; every test starts with three.
  for (const instance of cluster.instances) if (!instance.running) await instance.restart();
  for (const instance of cluster.instances) await cluster.waitForServerState(instance.name, "UP");
  onTestFailed(() => {
    for (const instance of cluster.instances) {
      console.error(
        `----- ${instance.name} (port ${instance.port}, pid ${instance.pid}, ${instance.running ? "running" : "stopped"}) -----\n${instance.output()}`,
      );
    }
    console.error(`----- haproxy -----\n${cluster.haproxy.output()}`);
  });
});

// ---------------------------------------------------------------------------------------------
// HTTP

type Answer = {
  status: number;
  /** X-Herald-Instance: set when an instance answered; absent on HAProxy's own 502/503/504. */
  instance: string | undefined;
  retryAfter: string | undefined;
  replayed: boolean;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: the parsed body of whichever endpoint answered
  json: any;
};

const AUTH = { authorization: `Bearer ${API_KEY}` };

async function call(pool: Pool, method: "GET" | "POST", path: string, opts: { body?: unknown; key?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...AUTH };
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  if (opts.key) headers["idempotency-key"] = opts.key;
  const res = await pool.request({
    path,
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    headersTimeout: 15_000,
    bodyTimeout: 15_000,
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const header = (name: string) => {
    const v = res.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  return {
    status: res.statusCode,
    instance: header("x-herald-instance"),
    retryAfter: header("retry-after"),
    replayed: header("idempotent-replayed") === "true",
    text,
    json,
  };
}

const errorCode = (error: unknown) => (error as { code?: string }).code ?? (error as Error).message ?? String(error);

/** What the clients had to retry, by cause. */
type RetryStats = {
  /** Network errors (the connection failed or closed before an answer). */
  network: number;
  /** 502/503/504 answered by HAProxy itself (no X-Herald-Instance). */
  lb5xx: number;
  /** 5xx answered by a Herald instance (X-Herald-Instance set). */
  instance5xx: number;
  /** 409: an earlier attempt with the same key still held it. */
  conflict409: number;
  /** 201s that replayed an earlier attempt's response (Idempotent-Replayed: true). */
  replayed: number;
  /** Sends that needed more than one attempt. */
  retriedSends: number;
  samples: string[];
};

const newRetryStats = (): RetryStats => ({
  network: 0,
  lb5xx: 0,
  instance5xx: 0,
  conflict409: 0,
  replayed: 0,
  retriedSends: 0,
  samples: [],
});
const retries = (s: RetryStats) => s.network + s.lb5xx + s.instance5xx + s.conflict409;

type Ack = { user: string; id: string; key: string; instance: string | undefined; attempts: number };

/**
 * POST one notification to one recipient with its own Idempotency-Key, and retry it with the SAME
 * key and body on a network error, a 502/503/504, or a 409 (after Retry-After), until 201.
 * Anything else, or too many attempts, throws.
 */
async function sendUntilAcknowledged(pool: Pool, user: string, title: string, stats: RetryStats): Promise<Ack> {
  const key = randomUUID();
  const body = { recipients: [user], title, data: { key } };
  const deadline = Date.now() + SEND_DEADLINE_MS;
  const note = (s: string) => {
    if (stats.samples.length < 20) stats.samples.push(s);
  };
  for (let attempt = 1; attempt <= MAX_SEND_ATTEMPTS && Date.now() < deadline; attempt++) {
    if (attempt === 2) stats.retriedSends++;
    let answer: Answer;
    try {
      answer = await call(pool, "POST", "/v1/notifications", { body, key });
    } catch (error) {
      stats.network++;
      note(`attempt ${attempt} of ${key}: ${errorCode(error)}`);
      await sleep(50);
      continue;
    }
    if (answer.status === 201) {
      if (answer.replayed) stats.replayed++;
      if (typeof answer.json?.id !== "string" || answer.json.recipients !== 1)
        throw new Error(`send ${key}: unexpected 201 body ${answer.text}`);
      return { user, id: answer.json.id, key, instance: answer.instance, attempts: attempt };
    }
    if (answer.status === 409) {
      stats.conflict409++;
      const seconds = Number(answer.retryAfter ?? "1");
      await sleep(Math.min(Number.isFinite(seconds) ? seconds : 1, 2) * 1000);
      continue;
    }
    if (answer.status === 502 || answer.status === 503 || answer.status === 504) {
      if (answer.instance) stats.instance5xx++;
      else stats.lb5xx++;
      note(`attempt ${attempt} of ${key}: ${answer.status} from ${answer.instance ?? "haproxy"}: ${answer.text.slice(0, 200)}`);
      await sleep(50);
      continue;
    }
    throw new Error(
      `send ${key} to ${user}: attempt ${attempt} answered ${answer.status} from ${answer.instance ?? "haproxy"}: ${answer.text.slice(0, 300)}`,
    );
  }
  throw new Error(`send ${key} to ${user}: not acknowledged after ${MAX_SEND_ATTEMPTS} attempts or ${SEND_DEADLINE_MS} ms`);
}

/** Every id in a user's feed, newest first, over all pages. */
async function feedIds(pool: Pool, user: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 200; page++) {
    const path = `/v1/users/${user}/notifications?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const res = await call(pool, "GET", path);
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.text.slice(0, 300)}`);
    for (const item of res.json.items as Array<{ id: string }>) ids.push(item.id);
    cursor = res.json.nextCursor;
    if (!cursor) return ids;
  }
  throw new Error(`feed of ${user}: more than 200 pages`);
}

/**
 * Every acknowledged notification is in its recipient's feed exactly once, the feed holds nothing
 * else, and counts.total is the number of distinct acknowledged sends to that user. Returns the
 * list of violations (empty when all hold).
 */
async function exactlyOnceViolations(pool: Pool, users: readonly string[], acks: readonly Ack[]): Promise<string[]> {
  const problems: string[] = [];
  for (const user of users) {
    const expected = new Set(acks.filter((a) => a.user === user).map((a) => a.id));
    const ids = await feedIds(pool, user);
    const seen = new Map<string, number>();
    for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
    for (const [id, n] of seen) if (n > 1) problems.push(`${user}: ${id} is in the feed ${n} times`);
    for (const id of expected) if (!seen.has(id)) problems.push(`${user}: acknowledged ${id} is missing from the feed`);
    for (const id of seen.keys())
      if (!expected.has(id)) problems.push(`${user}: ${id} is in the feed but was never acknowledged (a duplicate delivery)`);
    const counts = await call(pool, "GET", `/v1/users/${user}/notifications/counts`);
    if (counts.status !== 200) problems.push(`${user}: counts answered ${counts.status}`);
    else if (counts.json.total !== expected.size)
      problems.push(`${user}: counts.total is ${counts.json.total}, acknowledged ${expected.size}`);
  }
  return problems;
}

/** HAProxy's per-proxy counters from the stats CSV, keyed "proxy/server". */
async function haproxyCounters(): Promise<Record<string, Record<string, number>>> {
  const res = await request(`${cluster.statsUrl};csv`, { headersTimeout: 2000, bodyTimeout: 2000, reset: true });
  const lines = (await res.body.text()).split("\n").filter(Boolean);
  const header = (lines[0] ?? "").replace(/^# /, "").split(",");
  const out: Record<string, Record<string, number>> = {};
  for (const line of lines.slice(1)) {
    const cols = line.split(",");
    const row: Record<string, number> = {};
    header.forEach((name, i) => {
      const v = Number(cols[i]);
      if (name && cols[i] !== "" && Number.isFinite(v)) row[name] = v;
    });
    out[`${cols[0]}/${cols[1]}`] = row;
  }
  return out;
}

function counterDelta(
  before: Record<string, Record<string, number>>,
  after: Record<string, Record<string, number>>,
  row: string,
  field: string,
): number {
  return (after[row]?.[field] ?? 0) - (before[row]?.[field] ?? 0);
}

const instanceIdOf = (instance: InstanceHandle) => `-${instance.pid}`;
const answeredBy = (id: string | undefined, instance: InstanceHandle) => !!id && id.endsWith(instanceIdOf(instance));

// ---------------------------------------------------------------------------------------------

describe("scale-out: three instances behind HAProxy on one Redis", () => {
  it("spreads requests through HAProxy over every instance, and any instance reads what another wrote", { timeout: 40_000 }, async () => {
    // Each instance names itself in X-Herald-Instance (<host>-<pid>).
    const direct = new Map<string, InstanceHandle>();
    for (const instance of cluster.instances) {
      const res = await request(`${instance.url}/v1/users/nobody/notifications/counts`, { headers: AUTH, reset: true });
      await res.body.dump();
      const id = res.headers["x-herald-instance"] as string;
      expect(res.statusCode).toBe(200);
      expect(id, instance.name).toMatch(new RegExp(`${instanceIdOf(instance)}$`));
      direct.set(id, instance);
    }
    expect(direct.size).toBe(3);

    // 60 requests through HAProxy on 8 keep-alive connections: round robin per request.
    const perInstance = new Map<string, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < 60) {
          next++;
          const res = await call(lb, "GET", "/v1/users/nobody/notifications/counts");
          expect(res.status, res.text).toBe(200);
          expect(res.instance, "every answer through HAProxy names its instance").toBeTruthy();
          perInstance.set(res.instance as string, (perInstance.get(res.instance as string) ?? 0) + 1);
        }
      }),
    );
    console.log(`spread of 60 requests through HAProxy: ${JSON.stringify(Object.fromEntries(perInstance))}`);
    expect(new Set(perInstance.keys())).toEqual(new Set(direct.keys()));
    for (const [id, n] of perInstance) expect(n, `${id} answered ${n} of 60`).toBeGreaterThanOrEqual(10);

    // Written through instance 1's own port, read through instance 2's and 3's.
    const [one, two, three] = cluster.instances as [InstanceHandle, InstanceHandle, InstanceHandle];
    const pools = cluster.instances.map((i) => new Pool(i.url, { connections: 1 }));
    try {
      const user = `so-x-${randomUUID().slice(0, 8)}`;
      const sent = await call(pools[0] as Pool, "POST", "/v1/notifications", {
        body: { recipients: [user], title: "written on one" },
        key: randomUUID(),
      });
      expect(sent.status, sent.text).toBe(201);
      expect(answeredBy(sent.instance, one)).toBe(true);
      for (const [pool, reader] of [
        [pools[1], two],
        [pools[2], three],
      ] as Array<[Pool, InstanceHandle]>) {
        const list = await call(pool, "GET", `/v1/users/${user}/notifications?limit=100`);
        expect(list.status, list.text).toBe(200);
        expect(answeredBy(list.instance, reader), `${list.instance} should be ${reader.name}`).toBe(true);
        expect(list.json.items.map((i: { id: string; title: string }) => [i.id, i.title])).toEqual([[sent.json.id, "written on one"]]);
        const counts = await call(pool, "GET", `/v1/users/${user}/notifications/counts`);
        expect(answeredBy(counts.instance, reader)).toBe(true);
        expect(counts.json).toEqual({ total: 1, unread: 1, unseen: 1 });
      }
    } finally {
      await Promise.all(pools.map((p) => p.close()));
    }
  });

  it("keeps every acknowledged notification exactly once when one instance is SIGKILLed mid-load and clients retry with the same Idempotency-Key", {
    timeout: 45_000,
  }, async () => {
    const prefix = `so-k-${randomUUID().slice(0, 8)}`;
    const users = Array.from({ length: 40 }, (_, i) => `${prefix}-${i}`);
    const victim = cluster.instances[1] as InstanceHandle;
    const stats = newRetryStats();
    const acks: Ack[] = [];
    const LOAD_MS = 5000;
    const KILL_AT_MS = 1500;
    const MAX_SENDS = 6000;
    const t0 = Date.now();
    let started = 0;
    let killedAt = Number.POSITIVE_INFINITY;
    let ackedAfterKill = 0;

    const killer = (async () => {
      await sleep(KILL_AT_MS);
      killedAt = Date.now();
      return victim.kill("SIGKILL");
    })();
    // Eight keep-alive clients send back to back (2 ms apart), one recipient per send, round robin
    // over 40 users, for LOAD_MS; every send is retried until acknowledged.
    const clients = Array.from({ length: CLIENTS }, async () => {
      while (Date.now() - t0 < LOAD_MS && started < MAX_SENDS) {
        const n = started++;
        const sentAt = Date.now();
        const ack = await sendUntilAcknowledged(lb, users[n % users.length] as string, `${prefix} #${n}`, stats);
        acks.push(ack);
        if (sentAt > killedAt) ackedAfterKill++;
        await sleep(2);
      }
    });
    const [exit] = await Promise.all([killer, ...clients]);
    const summary = {
      sends: acks.length,
      ackedAfterKill,
      victimAcks: acks.filter((a) => answeredBy(a.instance, victim)).length,
      ...stats,
      samples: stats.samples.slice(0, 5),
    };
    console.log(`SIGKILL mid-load: ${JSON.stringify(summary)}`);

    expect(exit).toEqual({ code: null, signal: "SIGKILL" });
    // The kill really happened mid-load: the victim served sends before it, and sends went on after it.
    expect(summary.victimAcks, "sends answered by the victim before the kill").toBeGreaterThan(0);
    expect(ackedAfterKill, "sends started after the kill and acknowledged").toBeGreaterThan(0);
    expect(new Set(acks.map((a) => a.key)).size).toBe(acks.length);

    const problems = await exactlyOnceViolations(lb, users, acks);
    expect(problems, `${problems.length} violations`).toEqual([]);
    expect(acks.length, "distinct notification ids").toBe(new Set(acks.map((a) => a.id)).size);

    // The victim comes back and takes traffic again.
    await victim.restart();
    expect(victim.running).toBe(true);
  });

  it("rolls a restart (SIGTERM each instance in turn, start it again) under load with zero failed requests", {
    timeout: 60_000,
  }, async () => {
    const prefix = `so-r-${randomUUID().slice(0, 8)}`;
    const users = Array.from({ length: 40 }, (_, i) => `${prefix}-${i}`);
    const oldPids = cluster.instances.map((i) => i.pid);
    const stats = newRetryStats();
    const acks: Ack[] = [];
    const getFailures: string[] = [];
    const postFailures: string[] = [];
    const answers = new Map<string, number>();
    let gets = 0;
    let stop = false;
    const before = await haproxyCounters();

    // Eight keep-alive clients, 2 ms apart: 50 % list, 25 % counts, 25 % sends. GETs are never
    // retried by the client; sends are retried with their key on a network error or 502/503/504.
    const clients = Array.from({ length: CLIENTS }, async (_, c) => {
      for (let n = 0; !stop; n++) {
        const user = users[(c * 7 + n) % users.length] as string;
        const op = n % 4;
        if (op === 3) {
          try {
            const ack = await sendUntilAcknowledged(lb, user, `${prefix} c${c} #${n}`, stats);
            acks.push(ack);
            if (ack.instance) answers.set(ack.instance, (answers.get(ack.instance) ?? 0) + 1);
          } catch (error) {
            postFailures.push(String(error));
          }
        } else {
          const path = op === 2 ? `/v1/users/${user}/notifications/counts` : `/v1/users/${user}/notifications?limit=20`;
          gets++;
          try {
            const res = await call(lb, "GET", path);
            if (res.status !== 200)
              getFailures.push(`GET ${path}: ${res.status} from ${res.instance ?? "haproxy"}: ${res.text.slice(0, 200)}`);
            else if (res.instance) answers.set(res.instance, (answers.get(res.instance) ?? 0) + 1);
          } catch (error) {
            getFailures.push(`GET ${path}: ${errorCode(error)}`);
          }
        }
        await sleep(2);
      }
    });

    const drains: Array<{ name: string; exit: unknown; drainMs: number; restartMs: number }> = [];
    const roll = (async () => {
      try {
        await sleep(500);
        for (const instance of cluster.instances) {
          const t = Date.now();
          const exit = await instance.kill("SIGTERM");
          const drainMs = Date.now() - t;
          await instance.restart();
          drains.push({ name: instance.name, exit, drainMs, restartMs: Date.now() - t - drainMs });
          await sleep(300);
        }
        await sleep(500);
      } finally {
        stop = true;
      }
    })();
    await Promise.all([roll, ...clients]);
    const after = await haproxyCounters();

    const lbTo5xx = counterDelta(before, after, "herald_http/FRONTEND", "hrsp_5xx");
    const serverSent5xx = cluster.instances.reduce((sum, i) => sum + counterDelta(before, after, `herald/${i.name}`, "hrsp_5xx"), 0);
    const report = {
      gets,
      sends: acks.length,
      clientPostRetries: retries(stats),
      ...stats,
      samples: stats.samples.slice(0, 5),
      drains,
      haproxy: {
        frontend5xx: lbTo5xx,
        server5xx: serverSent5xx,
        retries: counterDelta(before, after, "herald/BACKEND", "wretr"),
        redispatches: counterDelta(before, after, "herald/BACKEND", "wredis"),
        connectionErrors: counterDelta(before, after, "herald/BACKEND", "econ"),
        responseErrors: counterDelta(before, after, "herald/BACKEND", "eresp"),
      },
    };
    console.log(`rolling restart: ${JSON.stringify(report)}`);

    // Every drain was graceful: exit 0 on SIGTERM, not a SIGKILL after the shutdown timeout.
    expect(drains.map((d) => [d.name, d.exit])).toEqual(cluster.instances.map((i) => [i.name, { code: 0, signal: null }]));
    // Every instance is a new process, and the new ones all serve through HAProxy afterwards.
    expect(cluster.instances.map((i) => i.pid).some((pid, k) => pid === oldPids[k])).toBe(false);
    const spread = new Map<string, number>();
    for (let k = 0; k < 30; k++) {
      const res = await call(lb, "GET", `/v1/users/${prefix}-0/notifications/counts`);
      spread.set(res.instance as string, (spread.get(res.instance as string) ?? 0) + 1);
    }
    for (const instance of cluster.instances) {
      expect(
        [...spread.keys()].some((id) => answeredBy(id, instance)),
        `${instance.name} serves after the roll`,
      ).toBe(true);
    }

    // The load really ran across the roll.
    expect(gets).toBeGreaterThan(300);
    expect(acks.length).toBeGreaterThan(100);
    // Zero failed requests: no GET failed (and GETs are never retried by the client)...
    expect(getFailures, `${getFailures.length} of ${gets} GETs failed`).toEqual([]);
    // ...and every send was acknowledged (after counted retries at most)...
    expect(postFailures).toEqual([]);
    // ...and no instance answered anything with a 5xx: every 5xx the client saw came from HAProxy
    // (a POST it may not replay), was retried with its key, and HAProxy's counters agree.
    expect(stats.instance5xx).toBe(0);
    expect(serverSent5xx, "5xx answered by instances, per HAProxy").toBe(0);
    expect(lbTo5xx, "5xx HAProxy sent to clients = the 5xx the clients counted").toBe(stats.lb5xx + stats.instance5xx);
    // And the sends, retried or not, are in the feeds exactly once.
    const problems = await exactlyOnceViolations(lb, users, acks);
    expect(problems, `${problems.length} violations`).toEqual([]);
  });
});
