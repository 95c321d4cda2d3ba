// Which Redis client should Herald use? A measured comparison under Herald's own kind of
// operation: one single-slot Lua script per feed change (EVALSHA, 8 keys under one hash tag),
// called one per request (64 callers in flight, each awaiting its own reply), or for a send to
// 100 recipients (100 different users): as one explicit pipeline, or as 100 concurrent calls
// (Promise.all, no explicit pipeline: what also works on Redis Cluster, where a pipeline
// cannot span slots in either client).
//
//   taskset -c 0 npx node bench/redis-clients.ts [calls=200000] [rounds=3] [redisUrl]
//
// Best with Redis alone on the other core: `taskset -c 1 redis-server --port 16390 --save ''`.
// Each mode reports script calls/s and CPU µs per call in Node and in redis-server (INFO cpu),
// which stays meaningful when the machine is shared. Keys live under `bench:clients:` and are
// deleted at the end.
import { Redis } from "ioredis";
import { createClient, defineScript } from "redis";

const CALLS = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const URL = process.argv[4] ?? "redis://127.0.0.1:6379";
const WARMUP = 20_000;
const USERS = 1_000;
const CONCURRENCY = 64; // single calls in flight
const BATCH = 100; // script calls per pipelined batch, one per user
const BATCHES_IN_FLIGHT = 4;
const PREFIX = "bench:clients:";

// Shaped like Herald's feed insert: sequence, ZADD, HSET, ZCARD and the first page of the feed.
const LUA = `
local seq = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[1], seq, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local n = redis.call('ZCARD', KEYS[1])
local page = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '-inf', 'LIMIT', 0, 21)
return { tostring(seq), tostring(n), page[1], page[#page] }`;
const SUFFIXES = ["f", "n", "c", "s", "k", "u", "a", "e"]; // feed, items, counts, seq, idem, ...
const PAYLOAD = JSON.stringify({ title: "Your export is ready", body: "x".repeat(120), category: "jobs" });

/** Call i goes to user i % USERS; ids cycle through 200 per user, so feeds stay bounded. */
function callArgs(i: number): [keys: string[], id: string] {
  const tag = `${PREFIX}{acme:user${i % USERS}}:`;
  return [SUFFIXES.map((s) => tag + s), `n${Math.floor(i / USERS) % 200}`];
}

interface Bench {
  one(i: number): Promise<unknown>;
  batch(first: number): Promise<unknown>;
  close(): Promise<unknown>;
}

async function nodeRedis(): Promise<Bench> {
  const feedOp = defineScript({
    SCRIPT: LUA,
    NUMBER_OF_KEYS: SUFFIXES.length,
    parseCommand(parser, keys: string[], id: string, payload: string) {
      parser.pushKeys(keys);
      parser.push(id, payload);
    },
    transformReply: (reply: unknown) => reply as string[],
  });
  const client = createClient({ url: URL, scripts: { feedOp } });
  await client.connect();
  return {
    one: (i) => client.feedOp(...callArgs(i), PAYLOAD),
    batch(first) {
      const multi = client.multi();
      for (let i = first; i < first + BATCH; i++) multi.feedOp(...callArgs(i), PAYLOAD);
      return multi.execAsPipeline();
    },
    close: () => client.close(),
  };
}

async function ioredis(): Promise<Bench> {
  const client = new Redis(URL, { lazyConnect: true });
  client.defineCommand("feedOp", { numberOfKeys: SUFFIXES.length, lua: LUA });
  await client.connect();
  // defineCommand adds untyped methods; this is the shape it creates.
  type WithFeedOp = { feedOp(...args: string[]): Promise<string[]> };
  const c = client as unknown as WithFeedOp;
  return {
    one(i) {
      const [keys, id] = callArgs(i);
      return c.feedOp(...keys, id, PAYLOAD);
    },
    batch(first) {
      const pipe = client.pipeline() as unknown as WithFeedOp & { exec(): Promise<unknown> };
      for (let i = first; i < first + BATCH; i++) {
        const [keys, id] = callArgs(i);
        pipe.feedOp(...keys, id, PAYLOAD);
      }
      return pipe.exec();
    },
    close: () => client.quit(),
  };
}

const admin = new Redis(URL);
/** Redis server CPU seconds so far (user + sys), from INFO cpu. */
async function redisCpu(): Promise<number> {
  const info = await admin.info("cpu");
  const field = (k: string) => Number(info.match(new RegExp(`${k}:([\\d.]+)`))?.[1] ?? Number.NaN);
  return field("used_cpu_user") + field("used_cpu_sys");
}

/** Runs `total` units of work with `workers` loops in flight: units/s, client and server CPU µs per unit. */
async function run(total: number, workers: number, unit: (k: number) => Promise<unknown>) {
  let next = 0;
  const server = await redisCpu();
  const start = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < total) await unit(next++);
    }),
  );
  const { user, system } = process.cpuUsage(cpu);
  const rate = total / ((performance.now() - start) / 1000);
  return { rate, cpuUs: (user + system) / total, redisUs: (((await redisCpu()) - server) * 1e6) / total };
}

const MODES = ["single", "pipelined", "fanout"] as const;
type Mode = (typeof MODES)[number];
type Sample = Record<Mode, { rate: number; cpuUs: number; redisUs: number }>;

/** Every mode is reported per script call: calls/s, client and Redis CPU µs per call. */
async function measure(make: () => Promise<Bench>): Promise<Sample> {
  const b = await make();
  const fanout = (first: number) => Promise.all(Array.from({ length: BATCH }, (_, j) => b.one(first + j)));
  const modes = {
    single: { workers: CONCURRENCY, per: 1, unit: (k: number) => b.one(k) },
    pipelined: { workers: BATCHES_IN_FLIGHT, per: BATCH, unit: (k: number) => b.batch(k * BATCH) },
    fanout: { workers: BATCHES_IN_FLIGHT, per: BATCH, unit: (k: number) => fanout(k * BATCH) },
  };
  const sample = {} as Sample;
  for (const mode of MODES) {
    const { workers, per, unit } = modes[mode];
    await run(WARMUP / per, workers, unit);
    const r = await run(CALLS / per, workers, unit);
    sample[mode] = { rate: r.rate * per, cpuUs: r.cpuUs / per, redisUs: r.redisUs / per };
  }
  await b.close();
  return sample;
}

async function cleanup(): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await admin.scan(cursor, "MATCH", `${PREFIX}*`, "COUNT", 1000);
    if (keys.length) await admin.unlink(...keys);
    cursor = next;
  } while (cursor !== "0");
}

const clients: Record<string, () => Promise<Bench>> = { "node-redis": nodeRedis, ioredis };
const results: Record<string, Sample[]> = {};
await cleanup();
for (let round = 1; round <= ROUNDS; round++) {
  const order = round % 2 ? Object.entries(clients) : Object.entries(clients).reverse(); // interleave
  for (const [name, make] of order) {
    const r = await measure(make);
    results[name] = [...(results[name] ?? []), r];
    const f = ({ rate, cpuUs, redisUs }: Sample[Mode]) => `${rate.toFixed(0)}/s ${cpuUs.toFixed(1)}+${redisUs.toFixed(1)} µs`;
    console.log(`round ${round} ${name.padEnd(10)} ${MODES.map((m) => `${m} ${f(r[m])}`).join("  ")}`);
  }
}
await cleanup();
await admin.quit();

const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const cell = (r: Sample[], m: Mode) =>
  `${median(r.map((x) => x[m].rate)).toFixed(0)} (${median(r.map((x) => x[m].cpuUs)).toFixed(1)} / ${median(r.map((x) => x[m].redisUs)).toFixed(1)})`;
console.log(`\nmedians of ${ROUNDS} runs, ${CALLS} script calls per mode per run, Node ${process.version}`);
console.log("script calls/s (CPU µs per call in the Node client / in redis-server)");
console.log("| client | single, 64 in flight | pipeline of 100, 4 in flight | Promise.all of 100, 4 in flight |");
console.log("|---|---|---|---|");
for (const [name, r] of Object.entries(results)) console.log(`| ${name} | ${MODES.map((m) => cell(r, m)).join(" | ")} |`);
