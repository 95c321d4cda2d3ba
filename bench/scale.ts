/**
 * `npm run bench:scale`: does capacity grow with instances?
 *
 * Runs 1, 2 and 3 Herald instances (`node src/main.js`, HERALD_WORKERS=1) behind the real HAProxy
 * of deploy/haproxy.cfg (scripts/cluster.ts), all on one private redis-server, and drives each step
 * with the benchmark's own load generator (bench/generator.ts, the shared workload of
 * k6/workload.ts: 50 % list, 25 % counts, 15 % mark read, 10 % send; closed loop, 64 keep-alive
 * connections) pointed at HAProxy.
 *
 * The point is to hold each instance to the SAME fixed CPU share, so that adding an instance adds a
 * known amount of CPU and the host's cores are not the limit: by default every instance gets 0.25
 * CPU through a cgroup cpu quota (cgroup v2 `cpu.max` "25000 100000", or on a cgroup v1 host
 * `cpu.cfs_quota_us`/`cpu.cfs_period_us`), one cgroup per instance slot
 * (/sys/fs/cgroup[/cpu]/herald-bench-<n>), each instance's pid written into its cgroup.procs once it
 * is ready and the store is seeded. 3 × 0.25 CPU, plus HAProxy, Redis and the generator (which are
 * not limited), fit on 2 cores. The cgroups are removed at the end. Needs root (or a delegated
 * cgroup); without it, pass --no-quota: the instances then share the host's cores unlimited, and
 * the figures show the host, not the scaling (the report says so and marks the run INVALID).
 *
 * Before the steps, the store is seeded once through a separate, throw-away instance (10,000 users ×
 * 50 items by default; the ids are kept for every step). Each step: start N fresh instances and
 * HAProxy; pre-warm each instance alone, directly on its port and with no quota, for the same time
 * (--prewarm, 3 s), so that every instance of every step has had the same JIT warm-up (without it,
 * an instance that served the seed is far faster than a fresh one and the ratio is meaningless);
 * then put the instances under their quota, warm up through HAProxy, measure. Per step it reports ops/s, errors, p50/p99/p99.9,
 * each instance's CPU (in % of one core, against its quota) and how often the quota throttled it,
 * the requests HAProxy sent each instance, and the CPU of HAProxy, Redis and the generator. An
 * instance that used less than 85 % of its quota was not the bottleneck; the step is then flagged
 * (something else limited it: the generator, HAProxy, Redis, or other processes on the host).
 * Summary: ops/s at N ÷ ops/s at 1 (the scaling ratio) and that ÷ N (per-instance efficiency).
 *
 * Usage:
 *   npm run bench:scale -- [--instances 1,2,3] [--cpu 0.25] [--duration 15] [--warmup 5]
 *                          [--prewarm 3] [--connections 64] [--connections-per-instance] [--users 10000] [--seed-per-user 50] [--seed 1]
 *                          [--out FILE] [--no-quota] [--quick]
 *   --quick: CI smoke (3 s measured, 1 s warm-up, 1 s pre-warm, 1,000 users × 5), no thresholds; it falls back to
 *            --no-quota when cgroups cannot be written.
 *
 *   --connections-per-instance: a diagnostic; 64 connections PER INSTANCE instead of 64 in all, so that
 *            each instance sees the same concurrency in every step.
 *
 * Results go to bench/results/scale-<timestamp>.json (or --out) and are printed. Exit code 1 if any
 * step had errors.
 */
import { type ChildProcess, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { cpus, release, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { request } from "undici";
import { DEFAULT_CONFIG, type SeedIds, validateConfig, type WorkloadConfig } from "../k6/workload.ts";
import { type LocalCluster, startLocalCluster } from "../scripts/cluster.ts";
import type { GeneratorConfig, GeneratorResult } from "./generator.ts";
import { children, gitInfo, killChildren, seedFeeds, spawnGenerator, startBenchRedis, stopChild } from "./processes.ts";
import { busyPercent, processCpuSeconds, readCores } from "./procstat.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** An instance below this share of its quota was not what limited the step. */
const SATURATED_PCT = 85;
const PERIOD_US = 100_000;

type Options = {
  instances: number[];
  cpu: number;
  durationS: number;
  warmupS: number;
  /** Unthrottled warm-up of each instance alone, directly, before the quota applies. */
  prewarmS: number;
  connections: number;
  /** Multiply the connections by the number of instances (a diagnostic: equal concurrency per instance). */
  connectionsPerInstance: boolean;
  workload: WorkloadConfig;
  out: string | null;
  quota: boolean;
  quick: boolean;
  timeoutMs: number;
};

export type InstanceFigures = {
  name: string;
  /** CPU used over the measured window, in % of one core. */
  cpuPct: number;
  /** The quota, in % of one core (null without quota). */
  quotaPct: number | null;
  /** cpuPct ÷ quotaPct, in %. */
  quotaUsedPct: number | null;
  /** Share of the cgroup's scheduling periods in which the quota throttled it, in %. */
  throttledPeriodsPct: number | null;
  /** Requests HAProxy sent this instance over the measured window. */
  requests: number | null;
  /** The instance's CPU time per request it served, in µs. */
  cpuUsPerRequest: number | null;
};

export type StepResult = {
  instances: number;
  /** Keep-alive connections of the closed-loop generator to HAProxy. */
  connections: number;
  opsPerSec: number;
  ops: number;
  errors: number;
  warmupErrors: number;
  /** Errors while pre-warming the instances one by one (no quota, direct). */
  prewarmErrors: number;
  unexpectedStatus: number;
  errorSamples: string[];
  latencyMs: GeneratorResult["latencyMs"];
  statusCounts: GeneratorResult["statusCounts"];
  perInstance: InstanceFigures[];
  /** Whether every instance used at least SATURATED_PCT % of its quota (the quota was the limit). */
  instancesSaturated: boolean | null;
  cpuPct: {
    haproxy: number | null;
    redis: number | null;
    generator: number;
    cores: Array<{ cpu: number; busyPct: number }>;
    other: number | null;
    /** The busiest processes outside the benchmark during the window. */
    otherProcesses: string[];
  };
};

export type ScaleReport = {
  timestamp: string;
  command: string;
  machine: { cpuModel: string; cores: number; kernel: string; loadAvgBefore: number[] };
  node: string;
  haproxy: string | null;
  git: { commit: string | null; dirty: boolean | null };
  settings: Omit<Options, "out"> & { target: "haproxy"; limiter: string };
  steps: StepResult[];
  scaling: Array<{ instances: number; opsPerSec: number; ratio: number; efficiency: number; p99Ms: number; errors: number }>;
  valid: boolean;
  notes: string[];
};

function usage(msg?: string): never {
  if (msg) console.error(`bench:scale: ${msg}`);
  console.error(
    "usage: node bench/scale.ts [--instances 1,2,3] [--cpu 0.25] [--duration 15] [--warmup 5] [--connections 64] [--users N] [--seed-per-user N] [--seed N] [--out FILE] [--no-quota] [--quick]",
  );
  process.exit(2);
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      instances: { type: "string", default: "1,2,3" },
      cpu: { type: "string", default: "0.25" },
      duration: { type: "string" },
      warmup: { type: "string" },
      prewarm: { type: "string" },
      connections: { type: "string", default: "64" },
      "connections-per-instance": { type: "boolean", default: false },
      users: { type: "string" },
      "seed-per-user": { type: "string" },
      seed: { type: "string", default: String(DEFAULT_CONFIG.seed) },
      out: { type: "string" },
      "no-quota": { type: "boolean", default: false },
      quick: { type: "boolean", default: false },
      timeout: { type: "string", default: "5000" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) usage();
  const num = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) usage(`--${name} must be a number ≥ ${min}`);
    return n;
  };
  const quick = values.quick;
  const instances = values.instances.split(",").map((s) => num("instances", s.trim(), 1));
  if (instances.some((n) => !Number.isInteger(n) || n > 10)) usage("--instances: integers from 1 to 10 (HAProxy's server slots)");
  if (instances[0] !== 1) usage("--instances must start with 1 (the baseline of the scaling ratio)");
  const cpu = num("cpu", values.cpu, 0.01);
  let workload: WorkloadConfig;
  try {
    workload = validateConfig({
      ...DEFAULT_CONFIG,
      users: num("users", values.users ?? (quick ? "1000" : String(DEFAULT_CONFIG.users)), 1),
      seedPerUser: num("seed-per-user", values["seed-per-user"] ?? (quick ? "5" : String(DEFAULT_CONFIG.seedPerUser)), 1),
      seed: num("seed", values.seed, 0),
    });
  } catch (e) {
    usage((e as Error).message);
  }
  return {
    instances,
    cpu,
    durationS: num("duration", values.duration ?? (quick ? "3" : "15"), 0.5),
    warmupS: num("warmup", values.warmup ?? (quick ? "1" : "5"), 0),
    prewarmS: num("prewarm", values.prewarm ?? (quick ? "1" : "3"), 0),
    connections: Math.round(num("connections", values.connections, 1)),
    connectionsPerInstance: values["connections-per-instance"],
    workload,
    out: values.out ?? null,
    quota: !values["no-quota"],
    quick,
    timeoutMs: num("timeout", values.timeout, 100),
  };
}

// ---------------------------------------------------------------------------------------------
// CPU quota: one cgroup per instance slot

type Throttling = { periods: number; throttled: number };

type CpuLimiter = {
  /** e.g. "cgroup v2 cpu.max 25000 100000". */
  readonly description: string;
  /** Moves a process (all its threads) into slot n's cgroup. */
  add(slot: number, pid: number): void;
  throttling(slot: number): Throttling | null;
  /** Removes the cgroups (their processes must have exited). */
  cleanup(): void;
};

const CGROUP_ROOT = "/sys/fs/cgroup";

/** Creates one cgroup per slot with a quota of `cpu` CPUs, on cgroup v2 or (hybrid hosts) v1. Throws with the reason if it cannot. */
function createCpuLimiter(slots: number, cpu: number): CpuLimiter {
  const quotaUs = Math.round(cpu * PERIOD_US);
  const v2 = existsSync(join(CGROUP_ROOT, "cgroup.controllers"));
  const parent = v2 ? CGROUP_ROOT : join(CGROUP_ROOT, "cpu");
  if (v2) {
    const controllers = readFileSync(join(CGROUP_ROOT, "cgroup.controllers"), "utf8").split(/\s+/);
    if (!controllers.includes("cpu"))
      throw new Error(`cgroup v2 without the cpu controller (${CGROUP_ROOT}/cgroup.controllers: ${controllers.join(" ")})`);
    const subtree = readFileSync(join(CGROUP_ROOT, "cgroup.subtree_control"), "utf8");
    if (!subtree.split(/\s+/).includes("cpu")) writeFileSync(join(CGROUP_ROOT, "cgroup.subtree_control"), "+cpu");
  } else if (!existsSync(join(parent, "cpu.cfs_quota_us"))) {
    throw new Error(`no cgroup v2 at ${CGROUP_ROOT} and no cgroup v1 cpu controller at ${parent}`);
  }
  const dirs: string[] = [];
  const dir = (slot: number) => join(parent, `herald-bench-${slot}`);
  const cleanup = () => {
    for (const d of dirs.splice(0)) {
      try {
        rmdirSync(d);
      } catch (e) {
        console.error(`bench:scale: could not remove ${d}: ${(e as Error).message}`);
      }
    }
  };
  try {
    for (let slot = 1; slot <= slots; slot++) {
      const d = dir(slot);
      if (!existsSync(d)) mkdirSync(d);
      dirs.push(d);
      if (v2) writeFileSync(join(d, "cpu.max"), `${quotaUs} ${PERIOD_US}`);
      else {
        writeFileSync(join(d, "cpu.cfs_period_us"), String(PERIOD_US));
        writeFileSync(join(d, "cpu.cfs_quota_us"), String(quotaUs));
      }
    }
  } catch (e) {
    cleanup();
    throw e;
  }
  return {
    description: v2
      ? `cgroup v2 cpu.max "${quotaUs} ${PERIOD_US}" per instance`
      : `cgroup v1 cpu.cfs_quota_us=${quotaUs} cpu.cfs_period_us=${PERIOD_US} per instance`,
    add(slot, pid) {
      writeFileSync(join(dir(slot), "cgroup.procs"), String(pid));
      const procs = readFileSync(join(dir(slot), "cgroup.procs"), "utf8").split("\n");
      if (!procs.includes(String(pid))) throw new Error(`pid ${pid} is not in ${dir(slot)}/cgroup.procs after writing it`);
    },
    throttling(slot) {
      try {
        const stat = Object.fromEntries(
          readFileSync(join(dir(slot), "cpu.stat"), "utf8")
            .split("\n")
            .map((l) => l.split(" "))
            .filter((kv) => kv.length === 2)
            .map(([k, v]) => [k, Number(v)]),
        ) as Record<string, number>;
        return { periods: stat.nr_periods ?? 0, throttled: stat.nr_throttled ?? 0 };
      } catch {
        return null;
      }
    },
    cleanup,
  };
}

/** Leftovers of a run that was killed: empty herald-bench-* cgroups. */
function removeStaleCgroups(): void {
  for (const parent of [CGROUP_ROOT, join(CGROUP_ROOT, "cpu")]) {
    let names: string[] = [];
    try {
      names = readdirSync(parent).filter((n) => /^herald-bench-\d+$/.test(n));
    } catch {
      continue;
    }
    for (const n of names) {
      try {
        rmdirSync(join(parent, n));
      } catch {
        // still has processes: leave it
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const srv = net.createServer();
    srv.once("error", () => done(false));
    srv.listen(port, "0.0.0.0", () => srv.close(() => done(true)));
  });
}

/** `count` consecutive free ports at a random base in 20000-30000 (so the bench can run next to the tests). */
async function portBlock(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (10_000 - count));
    let free = true;
    for (let p = base; p < base + count && free; p++) free = await portFree(p);
    if (free) return base;
  }
  throw new Error(`no block of ${count} free ports in 20000-30000`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// HAProxy counters

async function requestsPerServer(statsUrl: string): Promise<Record<string, number>> {
  try {
    const res = await request(`${statsUrl};csv`, { headersTimeout: 2000, bodyTimeout: 2000, reset: true });
    const lines = (await res.body.text()).split("\n").filter(Boolean);
    const header = (lines[0] ?? "").replace(/^# /, "").split(",");
    const col = header.indexOf("req_tot") >= 0 ? header.indexOf("req_tot") : header.indexOf("stot");
    const out: Record<string, number> = {};
    for (const line of lines.slice(1)) {
      const cols = line.split(",");
      if (cols[0] === "herald" && cols[1] && cols[1] !== "BACKEND") out[cols[1]] = Number(cols[col]) || 0;
    }
    return out;
  } catch {
    return {};
  }
}

// ---------------------------------------------------------------------------------------------
// What else the host was running

/** CPU seconds (utime + stime) of every process on the host, with its command name. */
function allProcessCpu(): Map<number, { comm: string; cpu: number }> {
  const out = new Map<number, { comm: string; cpu: number }>();
  let pids: string[] = [];
  try {
    pids = readdirSync("/proc").filter((n) => /^\d+$/.test(n));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(Number(pid), { comm, cpu: (Number(fields[11]) + Number(fields[12])) / 100 });
    } catch {
      // gone
    }
  }
  return out;
}

/** The busiest processes between two readings, excluding `ours`, in % of one core. */
function otherBusy(
  before: Map<number, { comm: string; cpu: number }>,
  after: Map<number, { comm: string; cpu: number }>,
  ours: Set<number>,
  seconds: number,
): string[] {
  const rows: Array<[string, number]> = [];
  for (const [pid, a] of after) {
    if (ours.has(pid)) continue;
    // A process missing from the first reading started during the window: all its CPU counts.
    const pct = ((a.cpu - (before.get(pid)?.cpu ?? 0)) / seconds) * 100;
    if (pct >= 5) rows.push([`${a.comm}[${pid}] ${Math.round(pct)}%`, pct]);
  }
  return rows
    .sort((x, y) => y[1] - x[1])
    .slice(0, 5)
    .map((r) => r[0]);
}

const INSTANCE_ENV = (ctx: { redis: { url: string }; apiKey: string; tokenSecret: string }): NodeJS.ProcessEnv => ({
  NODE_ENV: "production",
  HERALD_STORE_URL: ctx.redis.url,
  HERALD_API_KEYS: `bench:${ctx.apiKey}`,
  HERALD_TOKEN_SECRET: ctx.tokenSecret,
  HERALD_LOG_LEVEL: "warn",
  HERALD_WORKERS: "1",
});

/** Seeds the store through a throw-away one-instance cluster, so that no measured instance is warmer than another. */
async function seedStore(ctx: StepContext): Promise<SeedIds> {
  const base = await portBlock(3);
  const cluster = await startLocalCluster({
    instances: 1,
    basePort: base,
    lbPort: base + 1,
    statsPort: base + 2,
    readyTimeoutMs: 30_000,
    env: INSTANCE_ENV(ctx),
  });
  try {
    process.stderr.write(
      `[scale] seeding ${ctx.opts.workload.users} users × ${ctx.opts.workload.seedPerUser} through a separate instance…\n`,
    );
    const seeded = await seedFeeds(cluster.url, ctx.apiKey, ctx.opts.workload, 4);
    process.stderr.write(`[scale] seeded in ${seeded.seconds} s\n`);
    return seeded.ids;
  } finally {
    await cluster.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// One step

type StepContext = {
  opts: Options;
  redis: { child: ChildProcess; url: string };
  apiKey: string;
  tokenSecret: string;
  limiter: CpuLimiter | null;
  dir: string;
  ids: SeedIds | null;
};

function generatorBase(ctx: StepContext, ids: SeedIds): Omit<GeneratorConfig, "port" | "runId"> {
  return {
    host: "127.0.0.1",
    apiKey: ctx.apiKey,
    mode: "closed",
    rate: 0,
    connections: ctx.opts.connections,
    warmupS: ctx.opts.warmupS,
    durationS: ctx.opts.durationS,
    timeoutMs: ctx.opts.timeoutMs,
    workload: ctx.opts.workload,
    ids,
  };
}

async function runStep(n: number, ctx: StepContext): Promise<StepResult> {
  const { opts } = ctx;
  const base = await portBlock(n + 2);
  let cluster: LocalCluster | undefined;
  try {
    cluster = await startLocalCluster({
      instances: n,
      basePort: base,
      lbPort: base + n,
      statsPort: base + n + 1,
      readyTimeoutMs: 30_000,
      env: INSTANCE_ENV(ctx),
    });
    ctx.ids ??= await seedStore(ctx);
    const ids = ctx.ids;
    // The same JIT warm-up for every instance of every step: the generator, directly on the
    // instance's port, with no quota yet, for prewarmS seconds.
    let prewarmErrors = 0;
    for (const i of cluster.instances) {
      if (opts.prewarmS <= 0) break;
      const r = await spawnGenerator(
        ROOT,
        {
          ...generatorBase(ctx, ids),
          port: i.port,
          warmupS: 0,
          durationS: opts.prewarmS,
          runId: `prewarm${n}-${i.index}-${Date.now().toString(36)}`,
        },
        join(ctx.dir, `prewarm-${n}-${i.index}.json`),
      );
      prewarmErrors += r.errors;
    }
    if (ctx.limiter) for (const i of cluster.instances) if (i.pid) ctx.limiter.add(i.index, i.pid);
    process.stderr.write(
      `[scale] ${n} instance${n > 1 ? "s" : ""}${ctx.limiter ? ` at ${opts.cpu} CPU each` : " (no quota)"}: pre-warmed ${opts.prewarmS} s each with no quota, then ${opts.warmupS} s warm-up + ${opts.durationS} s measured, ${opts.connections * (opts.connectionsPerInstance ? n : 1)} connections to HAProxy…\n`,
    );

    const resultP = spawnGenerator(
      ROOT,
      {
        ...generatorBase(ctx, ids),
        port: base + n,
        connections: opts.connections * (opts.connectionsPerInstance ? n : 1),
        runId: `scale${n}-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`,
        // The generator measures these two over its exact window: HAProxy as "server", and Redis.
        serverPid: cluster.haproxy.pid,
        redisPid: ctx.redis.child.pid,
      },
      join(ctx.dir, `generator-${n}.json`),
    );

    // The instances' own figures, over the same window as the generator's (started at its spawn, so
    // this window opens and closes a few hundred ms earlier than the generator's: both under load).
    const instances = cluster.instances;
    await sleep(opts.warmupS * 1000);
    const cpuBefore = instances.map((i) => (i.pid ? processCpuSeconds(i.pid) : null));
    const thrBefore = instances.map((i) => ctx.limiter?.throttling(i.index) ?? null);
    const reqBefore = await requestsPerServer(cluster.statsUrl);
    const coresBefore = readCores();
    const procsBefore = allProcessCpu();
    const t0 = performance.now();
    await sleep(opts.durationS * 1000);
    const seconds = (performance.now() - t0) / 1000;
    const cpuAfter = instances.map((i) => (i.pid ? processCpuSeconds(i.pid) : null));
    const thrAfter = instances.map((i) => ctx.limiter?.throttling(i.index) ?? null);
    const coresAfter = readCores();
    const procsAfter = allProcessCpu();
    const reqAfter = await requestsPerServer(cluster.statsUrl);
    // Ours: this process, the generator, Redis, HAProxy and the instances.
    const ours = new Set<number>([process.pid, ...[...children].map((c) => c.pid ?? 0)]);
    for (const i of instances) if (i.pid) ours.add(i.pid);
    if (cluster.haproxy.pid) ours.add(cluster.haproxy.pid);
    const result = await resultP;

    const quotaPct = ctx.limiter ? Math.round(opts.cpu * 1000) / 10 : null;
    const perInstance: InstanceFigures[] = instances.map((inst, k) => {
      const b = cpuBefore[k];
      const a = cpuAfter[k];
      const cpuPct = b != null && a != null ? Math.round(((a - b) / seconds) * 1000) / 10 : Number.NaN;
      const tb = thrBefore[k];
      const ta = thrAfter[k];
      const periods = tb && ta ? ta.periods - tb.periods : 0;
      const requests = inst.name in reqAfter ? (reqAfter[inst.name] ?? 0) - (reqBefore[inst.name] ?? 0) : null;
      return {
        name: inst.name,
        cpuPct,
        quotaPct,
        quotaUsedPct: quotaPct ? Math.round((cpuPct / quotaPct) * 1000) / 10 : null,
        throttledPeriodsPct: tb && ta && periods > 0 ? Math.round(((ta.throttled - tb.throttled) / periods) * 1000) / 10 : null,
        requests,
        cpuUsPerRequest: requests && b != null && a != null ? Math.round(((a - b) * 1e6) / requests) : null,
      };
    });
    const cores = busyPercent(coresBefore, coresAfter);
    const haproxyPct = result.server.cpuSeconds !== null ? Math.round((result.server.cpuSeconds / result.measuredS) * 1000) / 10 : null;
    const known =
      perInstance.reduce((s, i) => s + (Number.isFinite(i.cpuPct) ? i.cpuPct : 0), 0) +
      (haproxyPct ?? 0) +
      (result.redisCpuPct ?? 0) +
      result.generatorCpuPct;
    const busy = cores.reduce((s, c) => s + c.busyPct, 0);
    return {
      instances: n,
      connections: result.connections,
      opsPerSec: result.opsPerSec,
      ops: result.ops,
      errors: result.errors,
      warmupErrors: result.warmupErrors,
      prewarmErrors,
      unexpectedStatus: result.unexpectedStatus,
      errorSamples: result.errorSamples,
      latencyMs: result.latencyMs,
      statusCounts: result.statusCounts,
      perInstance,
      instancesSaturated: ctx.limiter ? perInstance.every((i) => (i.quotaUsedPct ?? 0) >= SATURATED_PCT) : null,
      cpuPct: {
        haproxy: haproxyPct,
        redis: result.redisCpuPct,
        generator: result.generatorCpuPct,
        cores,
        other: cores.length ? Math.max(0, Math.round((busy - known) * 10) / 10) : null,
        otherProcesses: otherBusy(procsBefore, procsAfter, ours, seconds),
      },
    };
  } finally {
    await cluster?.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function haproxyVersion(): string | null {
  try {
    return execFileSync("haproxy", ["-v"], { encoding: "utf8" }).split("\n")[0]?.trim() ?? null;
  } catch {
    return null;
  }
}

function printReport(r: ScaleReport): void {
  const s = r.settings;
  const lines: string[] = [
    "",
    `Herald scale-out benchmark — ${r.timestamp}`,
    `machine: ${r.machine.cpuModel} × ${r.machine.cores}, Linux ${r.machine.kernel}, load avg before ${r.machine.loadAvgBefore.join(" ")}; node ${r.node}; ${r.haproxy ?? "haproxy ?"}; commit ${r.git.commit ?? "(none)"}${r.git.dirty ? " (dirty)" : ""}`,
    `settings: ${s.instances.join(", ")} instances × ${s.quota ? `${s.cpu} CPU (${s.limiter})` : "NO quota"}; closed loop, ${s.connections}${s.connectionsPerInstance ? " × instances" : ""} connections to HAProxy; ${s.warmupS} s warm-up + ${s.durationS} s measured per step; ${s.workload.users} users × ${s.workload.seedPerUser} seeded${s.quick ? "; QUICK (smoke, no thresholds)" : ""}`,
    "",
    "instances    ops/s   ratio  per-instance  errors   p50 ms   p99 ms  p99.9 ms  instance CPU (% of one core / quota used / throttled periods / requests / CPU per request)   haproxy  redis  generator  other",
  ];
  for (const step of r.steps) {
    const sc = r.scaling.find((x) => x.instances === step.instances);
    const l = step.latencyMs.overall;
    const inst = step.perInstance
      .map(
        (i) =>
          `${i.name} ${i.cpuPct}%${i.quotaUsedPct !== null ? `/${i.quotaUsedPct}%` : ""}${i.throttledPeriodsPct !== null ? `/${i.throttledPeriodsPct}%` : ""}${i.requests !== null ? `/${i.requests}` : ""}${i.cpuUsPerRequest !== null ? `/${i.cpuUsPerRequest}µs` : ""}`,
      )
      .join(", ");
    lines.push(
      `${String(step.instances).padStart(9)} ${String(step.opsPerSec).padStart(8)} ${(sc?.ratio ?? 0).toFixed(2).padStart(7)} ${(sc?.efficiency ?? 0).toFixed(2).padStart(13)} ${String(step.errors).padStart(7)} ${l.p50.toFixed(1).padStart(8)} ${l.p99.toFixed(1).padStart(8)} ${l.p999.toFixed(1).padStart(9)}  ${inst}   ${step.cpuPct.haproxy ?? "-"}%  ${step.cpuPct.redis ?? "-"}%  ${step.cpuPct.generator}%  ${step.cpuPct.other ?? "-"}%`,
    );
  }
  lines.push("");
  for (const note of r.notes) lines.push(`note: ${note}`);
  lines.push(r.valid ? "VALID: every step error-free and every instance held at its quota" : "NOT VALID as a scaling figure (see notes)");
  lines.push("");
  console.log(lines.join("\n"));
}

export async function main(argv: string[]): Promise<ScaleReport> {
  const opts = parseOptions(argv);
  const notes: string[] = [];
  const loadAvgBefore = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number);
  let limiter: CpuLimiter | null = null;
  if (opts.quota) {
    removeStaleCgroups();
    try {
      limiter = createCpuLimiter(Math.max(...opts.instances), opts.cpu);
    } catch (e) {
      const why = `cannot set a cgroup cpu quota: ${(e as Error).message}`;
      if (!opts.quick)
        usage(
          `${why}. Run as root on a host with cgroup v2 (or v1) cpu control, or pass --no-quota (the figures then show the host's cores, not per-instance scaling)`,
        );
      notes.push(`${why}; quick mode ran with no quota`);
      opts.quota = false;
    }
  }
  if (!opts.quota)
    notes.push("no cpu quota: the instances shared the host's cores, so the ratio shows the host, not per-instance capacity");
  const total = opts.instances.reduce((s, n) => Math.max(s, n), 0) * opts.cpu;
  if (limiter && total > cpus().length - 1)
    notes.push(`${total} CPU of quota on ${cpus().length} cores leaves less than one core for HAProxy, Redis and the generator`);

  const dir = mkdtempSync(join(tmpdir(), "herald-bench-scale-"));
  const cleanupAll = () => {
    killChildren();
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      cleanupAll();
      // The instances die with this process (scripts/cluster.ts kills them on exit); give the kernel
      // a moment, then remove the cgroups.
      setTimeout(() => {
        limiter?.cleanup();
        process.exit(130);
      }, 300);
    });
  }
  const steps: StepResult[] = [];
  const redis = await startBenchRedis(dir, await portBlock(1));
  try {
    const ctx: StepContext = {
      opts,
      redis,
      apiKey: randomBytes(24).toString("base64url"),
      tokenSecret: randomBytes(48).toString("base64url"),
      limiter,
      dir,
      ids: null,
    };
    for (const n of opts.instances) steps.push(await runStep(n, ctx));
  } finally {
    await stopChild(redis.child);
    limiter?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }

  const one = steps.find((s) => s.instances === 1)?.opsPerSec ?? 0;
  const scaling = steps.map((s) => {
    const ratio = one > 0 ? Math.round((s.opsPerSec / one) * 100) / 100 : 0;
    return {
      instances: s.instances,
      opsPerSec: s.opsPerSec,
      ratio,
      efficiency: Math.round((ratio / s.instances) * 100) / 100,
      p99Ms: s.latencyMs.overall.p99,
      errors: s.errors,
    };
  });
  for (const s of steps) {
    if (s.errors > 0 || s.warmupErrors > 0)
      notes.push(
        `${s.instances} instance(s): ${s.errors} errors (${s.warmupErrors} in warm-up): ${s.errorSamples.slice(0, 3).join(" | ")}`,
      );
    if (s.instancesSaturated === false) {
      notes.push(
        `${s.instances} instance(s): not every instance used ${SATURATED_PCT} % of its quota (${s.perInstance.map((i) => `${i.name} ${i.quotaUsedPct}%`).join(", ")}): something else limited this step`,
      );
    }
    if ((s.cpuPct.other ?? 0) > 20)
      notes.push(
        `${s.instances} instance(s): other processes on the host used ${s.cpuPct.other}% of a core during the window (${s.cpuPct.otherProcesses.join(", ") || "kernel"})`,
      );
    if (s.prewarmErrors > 0) notes.push(`${s.instances} instance(s): ${s.prewarmErrors} errors while pre-warming`);
  }
  const { out: _out, ...settings } = opts;
  const valid =
    !opts.quick &&
    opts.quota &&
    steps.every((s) => s.errors === 0 && s.warmupErrors === 0 && s.prewarmErrors === 0 && s.instancesSaturated === true);
  const report: ScaleReport = {
    timestamp: new Date().toISOString(),
    command: `npm run bench:scale${argv.length ? ` -- ${argv.join(" ")}` : ""}`,
    machine: { cpuModel: cpus()[0]?.model ?? "unknown", cores: cpus().length, kernel: release(), loadAvgBefore },
    node: process.version,
    haproxy: haproxyVersion(),
    git: gitInfo(ROOT),
    settings: { ...settings, target: "haproxy", limiter: limiter?.description ?? "none" },
    steps,
    scaling,
    valid,
    notes,
  };
  printReport(report);
  const out = opts.out ?? join(ROOT, "bench/results", `scale-${report.timestamp.replace(/[:.]/g, "-")}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${out}`);
  return report;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (r) => process.exit(r.steps.some((s) => s.errors > 0 || s.warmupErrors > 0 || s.prewarmErrors > 0) ? 1 : 0),
    (e: unknown) => {
      console.error(`bench:scale: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      killChildren();
      process.exit(1);
    },
  );
}
