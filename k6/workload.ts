/**
 * THE Herald benchmark workload, defined once.
 *
 * Imported unchanged by the k6 scripts (k6/*.ts, run by k6's own JS runtime) and by the local
 * benchmark driver (bench/run.ts, run by Node). It therefore uses plain TypeScript only: no Node
 * APIs (no Buffer, no process), no k6 modules, no enums, no parameter properties.
 *
 * What it fixes:
 *  - the operation mix: 50 % list (limit 20), 25 % counts, 15 % mark one item read (PATCH),
 *    10 % send to one recipient with an Idempotency-Key;
 *  - the user distribution: USERS users named u00000..u09999 (10,000 by default), drawn
 *    UNIFORMLY at random. Uniform is deliberate: it is the worst case for any cache and the
 *    easiest to reason about; real traffic is skewed towards active users, which only helps;
 *  - the seed: SEED_PER_USER notifications per user (50 by default), sent as bulk sends of up
 *    to 1,000 recipients (users are grouped in batches of 1,000; every batch gets SEED_PER_USER
 *    sends), so 10,000 × 50 = 500,000 feed items cost only 500 HTTP calls;
 *  - the payload generators (title, body, category, data, actionUrl);
 *  - a deterministic PRNG (sfc32 seeded through a 32-bit mixer), one independent stream per
 *    k6 VU or per driver connection, so a run is reproducible from SEED.
 *
 * How PATCH finds an existing notification id: DETERMINISTICALLY, from the seed. A bulk send
 * answers one id that names the notification in every recipient's feed, so the ids answered by
 * the seed sends of batch b are exactly the ids seeded into the feed of every user of batch b.
 * The seeding step records them as `SeedIds` (ids[batch][index]); mark_read picks a random one
 * of the user's own batch. The sequence of operations therefore depends only on the seed and
 * the seeded ids, never on response bodies, so generators need not parse responses, and a run
 * is reproducible. (Marking read is idempotent, so picking an already-read item is fine: it is
 * still one store round trip and a 200.) Items sent during the run are never deleted or
 * trimmed by this mix (10 % sends spread over 10,000 users stay far below HERALD_FEED_MAX), so
 * the seeded ids stay valid for the whole run.
 *
 * Seeding is idempotent: each seed send carries an Idempotency-Key derived from the seed
 * parameters, so re-running setup against the same deployment within 24 h replays the same ids
 * instead of inserting duplicates.
 */

export type OpName = "list" | "counts" | "mark_read" | "send";
export type HttpMethod = "GET" | "POST" | "PATCH";

/** One request to make. `body` is already-serialized JSON; Authorization is added by the transport. */
export interface Operation {
  name: OpName;
  method: HttpMethod;
  path: string;
  body?: string;
  headers?: Record<string, string>;
  /** The status that counts as success. */
  expectStatus: number;
}

/** The mix, in percent. The weights add up to 100. */
export const MIX: ReadonlyArray<{ name: OpName; weight: number }> = [
  { name: "list", weight: 50 },
  { name: "counts", weight: 25 },
  { name: "mark_read", weight: 15 },
  { name: "send", weight: 10 },
];

export const OP_NAMES: readonly OpName[] = MIX.map((m) => m.name);

export const LIST_LIMIT = 20;
/** Herald's maximum number of recipients per send. */
export const BULK_RECIPIENTS = 1000;

export interface WorkloadConfig {
  /** Number of users, named u00000..u(n-1), zero-padded to at least 5 digits. */
  users: number;
  /** Notifications seeded into each user's feed (at least 1: mark_read needs an item). */
  seedPerUser: number;
  /** PRNG seed: the same seed gives the same operation sequence. */
  seed: number;
  /** Users per seed bulk send (≤ 1,000). */
  batchSize: number;
  /** Prefix of the seed sends' Idempotency-Keys. */
  seedNamespace: string;
}

export const DEFAULT_CONFIG: WorkloadConfig = {
  users: 10_000,
  seedPerUser: 50,
  seed: 1,
  batchSize: BULK_RECIPIENTS,
  seedNamespace: "herald-bench",
};

/** Reads USERS, SEED_PER_USER, SEED and SEED_NAMESPACE from an env-like map (k6's __ENV or process.env). */
export function configFromEnv(env: Record<string, string | undefined>, base: Partial<WorkloadConfig> = {}): WorkloadConfig {
  const cfg: WorkloadConfig = { ...DEFAULT_CONFIG, ...base };
  const int = (name: string, value: string | undefined, min: number, max: number): number | undefined => {
    if (value === undefined || value === "") return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer in [${min}, ${max}], got ${value}`);
    return n;
  };
  cfg.users = int("USERS", env.USERS, 1, 10_000_000) ?? cfg.users;
  cfg.seedPerUser = int("SEED_PER_USER", env.SEED_PER_USER, 1, 1000) ?? cfg.seedPerUser;
  cfg.seed = int("SEED", env.SEED, 0, 0xffffffff) ?? cfg.seed;
  if (env.SEED_NAMESPACE) cfg.seedNamespace = env.SEED_NAMESPACE;
  return validateConfig(cfg);
}

export function validateConfig(cfg: WorkloadConfig): WorkloadConfig {
  if (!Number.isInteger(cfg.users) || cfg.users < 1) throw new Error("users must be a positive integer");
  if (!Number.isInteger(cfg.seedPerUser) || cfg.seedPerUser < 1) throw new Error("seedPerUser must be ≥ 1 (mark_read needs a seeded item)");
  if (!Number.isInteger(cfg.batchSize) || cfg.batchSize < 1 || cfg.batchSize > BULK_RECIPIENTS)
    throw new Error(`batchSize must be in [1, ${BULK_RECIPIENTS}]`);
  return cfg;
}

// ---------------------------------------------------------------------------------------------
// Deterministic PRNG

function mix32(x: number): number {
  // murmur3's fmix32
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** sfc32: small, fast, statistically good; `stream` selects an independent sequence for one VU or connection. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    this.a = mix32(seed ^ 0x9e3779b9);
    this.b = mix32(stream + 0x7f4a7c15);
    this.c = mix32((seed + Math.imul(stream, 0x2545f491)) ^ 0x6a09e667);
    this.d = 1;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** A uniform unsigned 32-bit integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
}

// ---------------------------------------------------------------------------------------------
// Users

export function userId(cfg: WorkloadConfig, index: number): string {
  const width = Math.max(5, String(cfg.users - 1).length);
  return `u${String(index).padStart(width, "0")}`;
}

/** The user distribution: uniform over all users. */
export function pickUser(cfg: WorkloadConfig, rng: Rng): number {
  return rng.int(cfg.users);
}

export function batchCount(cfg: WorkloadConfig): number {
  return Math.ceil(cfg.users / cfg.batchSize);
}

export function batchOfUser(cfg: WorkloadConfig, index: number): number {
  return Math.floor(index / cfg.batchSize);
}

// ---------------------------------------------------------------------------------------------
// Payloads

const CATEGORIES = ["billing", "social", "system", "security", "marketing"] as const;
const NAMES = ["Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Radia", "Edsger", "Frances"];
const CITIES = ["Lisbon", "Osaka", "Nairobi", "Toronto", "Tallinn", "Lima", "Pune", "Oslo"];
const WORDS = (
  "your account order invoice payment team project comment reply mention update review " +
  "shipment delivery security sign-in device weekly summary report reminder task deadline " +
  "approved declined scheduled completed new pending important please check details today"
).split(" ");

export interface NotificationPayload {
  title: string;
  body: string;
  category: string;
  data: Record<string, string | number | boolean | string[]>;
  actionUrl: string;
}

/** A realistic notification: a ~20–60 char title, a ~40–240 char body, a small data object. */
export function makePayload(rng: Rng): NotificationPayload {
  const category = rng.pick(CATEGORIES);
  const n = 10000 + rng.int(90000);
  const who = rng.pick(NAMES);
  let title: string;
  switch (category) {
    case "billing":
      title = `Invoice INV-${n} is ready`;
      break;
    case "social":
      title = `${who} commented on your post`;
      break;
    case "security":
      title = `New sign-in from ${rng.pick(CITIES)}`;
      break;
    case "system":
      title = `Scheduled maintenance #${n}`;
      break;
    default:
      title = `${who} shared a report with you`;
  }
  const words = 6 + rng.int(30);
  const parts: string[] = [];
  for (let i = 0; i < words; i++) parts.push(rng.pick(WORDS));
  const body = `${parts.join(" ")}.`;
  const data: NotificationPayload["data"] = { entityId: `e${n}`, actor: who.toLowerCase(), priority: rng.int(3) };
  if (category === "billing") data.amountCents = 100 + rng.int(100000);
  if (rng.int(4) === 0) data.tags = [rng.pick(WORDS), rng.pick(WORDS)];
  return { title, body, category, data, actionUrl: `https://app.example.com/${category}/${n}` };
}

// ---------------------------------------------------------------------------------------------
// Seeding

export interface SeedSend {
  batch: number;
  index: number;
  /** Deterministic, so re-seeding the same deployment replays instead of duplicating. */
  idempotencyKey: string;
  /** JSON body of POST /v1/notifications. */
  body: string;
}

/** ids[batch][index]: the id answered by seed send (batch, index), present in the feed of every user of that batch. */
export type SeedIds = string[][];

/** The seed sends, index-major (every batch gets send 0, then every batch gets send 1, …). */
export function seedSends(cfg: WorkloadConfig): SeedSend[] {
  const out: SeedSend[] = [];
  const batches = batchCount(cfg);
  const recipients: string[][] = [];
  for (let b = 0; b < batches; b++) {
    const r: string[] = [];
    for (let u = b * cfg.batchSize; u < Math.min(cfg.users, (b + 1) * cfg.batchSize); u++) r.push(userId(cfg, u));
    recipients.push(r);
  }
  const rng = new Rng(cfg.seed, 0x5eed);
  for (let index = 0; index < cfg.seedPerUser; index++) {
    for (let batch = 0; batch < batches; batch++) {
      const p = makePayload(rng);
      out.push({
        batch,
        index,
        idempotencyKey: `${cfg.seedNamespace}-s${cfg.seed}-u${cfg.users}-n${cfg.seedPerUser}-b${batch}-i${index}`,
        body: JSON.stringify({ recipients: recipients[batch], ...p }),
      });
    }
  }
  return out;
}

export function emptySeedIds(cfg: WorkloadConfig): SeedIds {
  return Array.from({ length: batchCount(cfg) }, () => new Array<string>(cfg.seedPerUser).fill(""));
}

/** Throws unless every seed send has recorded its id. */
export function assertSeeded(cfg: WorkloadConfig, ids: SeedIds): void {
  for (let b = 0; b < batchCount(cfg); b++) {
    for (let i = 0; i < cfg.seedPerUser; i++) {
      if (!ids[b]?.[i]) throw new Error(`seed send (batch ${b}, index ${i}) has no id`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The operation stream

/** Per-VU (k6) or per-connection (driver) state. */
export interface StreamState {
  rng: Rng;
  stream: number;
  seq: number;
  /** Makes Idempotency-Keys of sends unique across runs. */
  runId: string;
}

export function newStream(cfg: WorkloadConfig, stream: number, runId: string): StreamState {
  return { rng: new Rng(cfg.seed, stream + 1), stream, seq: 0, runId };
}

const JSON_HEADERS = { "Content-Type": "application/json" };
const PATCH_READ_BODY = JSON.stringify({ read: true });

export function pickOp(rng: Rng): OpName {
  let r = rng.int(100);
  for (const m of MIX) {
    if (r < m.weight) return m.name;
    r -= m.weight;
  }
  return "list";
}

/** The next operation of one stream. Deterministic given (cfg.seed, stream, ids). */
export function nextOperation(cfg: WorkloadConfig, state: StreamState, ids: SeedIds): Operation {
  const rng = state.rng;
  const name = pickOp(rng);
  const u = pickUser(cfg, rng);
  const user = userId(cfg, u);
  state.seq++;
  switch (name) {
    case "list":
      return { name, method: "GET", path: `/v1/users/${user}/notifications?limit=${LIST_LIMIT}`, expectStatus: 200 };
    case "counts":
      return { name, method: "GET", path: `/v1/users/${user}/notifications/counts`, expectStatus: 200 };
    case "mark_read": {
      const batch = ids[batchOfUser(cfg, u)];
      const id = batch ? batch[rng.int(batch.length)] : undefined;
      if (!id) throw new Error(`no seeded id for ${user}: seed first`);
      return {
        name,
        method: "PATCH",
        path: `/v1/users/${user}/notifications/${encodeURIComponent(id)}`,
        body: PATCH_READ_BODY,
        headers: JSON_HEADERS,
        expectStatus: 200,
      };
    }
    case "send": {
      const p = makePayload(rng);
      return {
        name,
        method: "POST",
        path: "/v1/notifications",
        body: JSON.stringify({ recipients: [user], ...p }),
        headers: { ...JSON_HEADERS, "Idempotency-Key": `${state.runId}-${state.stream}-${state.seq}` },
        expectStatus: 201,
      };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Response checks (shared by the k6 scripts; the driver checks status only, to stay cheap)

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isCounts(v: unknown): boolean {
  return isObject(v) && typeof v.total === "number" && typeof v.unread === "number" && typeof v.unseen === "number";
}

/** null when the response is what the operation should get, else a reason. */
export function checkResponse(op: Operation, status: number, body: string | null | undefined): string | null {
  if (status !== op.expectStatus) return `status ${status}, expected ${op.expectStatus}`;
  let json: unknown;
  try {
    json = JSON.parse(body ?? "");
  } catch {
    return "body is not JSON";
  }
  if (!isObject(json)) return "body is not an object";
  switch (op.name) {
    case "list":
      if (!Array.isArray(json.items) || json.items.length > LIST_LIMIT) return "items missing or too long";
      if (!("nextCursor" in json)) return "nextCursor missing";
      return isCounts(json.counts) ? null : "counts missing";
    case "counts":
      return isCounts(json) ? null : "not {total, unread, unseen}";
    case "mark_read":
      return typeof json.id === "string" && typeof json.readAt === "string" ? null : "item not read";
    case "send":
      return typeof json.id === "string" && json.recipients === 1 ? null : "not {id, recipients: 1}";
  }
}
