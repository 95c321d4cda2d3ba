/**
 * `npm run bench`: the local, reproducible benchmark of Herald under the k6 suite's workload
 * (k6/workload.ts: the same mix, users, seed and payloads).
 *
 * Held fixed: the server pinned to CPU 0 (`taskset -c 0`); the generator, and the benchmark's own
 * Redis, pinned to CPU 1; 64 keep-alive connections; 5 s warm-up, then 20 s measured. For each
 * target it starts a fresh store, seeds the feeds with bulk sends of 1,000 recipients through a
 * seeding server that it then stops, starts the measured server on the seeded store and waits for
 * /readyz (timing it), then starts the generator process (bench/generator.ts) and collects ops/s,
 * p50/p99/p99.9 per operation and overall, errors, each core's busy % over the measured window,
 * the server's CPU time per op and its RSS (sampled every 10 s). A run whose generator core was more
 * than 95 % busy is flagged INVALID: it measured the generator, not the server.
 *
 * Usage:
 *   npm run bench -- [--mode closed|open] [--rate 10000] [--store redis|sqlite]
 *                    [--target herald,floor] [--duration 20] [--warmup 5] [--connections 64]
 *                    [--users 10000] [--seed-per-user 50] [--seed 1] [--out file.json]
 *                    [--herald-cmd "node src/main.js"] [--floor-cmd "node bench/floor.ts"]
 *                    [--server-cpu 0] [--load-cpu 1] [--no-pin] [--env NAME=VALUE ...] [--keep]
 *                    [--server-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof-{target}"]
 *   --server-node-args (or BENCH_SERVER_NODE_ARGS): Node options for the server processes whose
 *   command starts with `node` (both targets); `{target}` is replaced by the target's name. The
 *   servers exit at the end of each target's run, which is when --cpu-prof writes its profile;
 *   summarize it with `node bench/profile-top.ts FILE.cpuprofile`.
 *   CI smoke: npm run bench -- --store sqlite --duration 2 --warmup 1 --users 200 --seed-per-user 5
 *
 * Targets:
 *  - herald: `node src/main.js`, as `npm start` and the Dockerfile run it.
 *  - floor: a minimal node:http server (bench/floor.ts, not shipped) that makes the same store
 *    calls with no framework, validation or metrics. Herald's ops/s is reported as a fraction of
 *    the floor's measured in the same run. The floor is run by default when bench/floor.ts exists;
 *    its command is configurable (--floor-cmd or BENCH_FLOOR_CMD). Its contract: it reads the
 *    same env as Herald (PORT, HOST, HERALD_STORE_URL, HERALD_API_KEYS, HERALD_TOKEN_SECRET),
 *    answers GET /readyz with 200 once it can serve, and serves the four operations of the mix
 *    (GET …/notifications?limit=20, GET …/notifications/counts, PATCH …/notifications/{id},
 *    POST /v1/notifications with up to 1,000 recipients and an Idempotency-Key) with Herald's
 *    status codes and response shapes (the seed needs `id` from the send's 201).
 *
 * The Redis store uses its own redis-server (a free port, a temp dir, `--save '' --appendonly no`,
 * pinned with the generator), never the shared one on :6379, and kills it at the end. SQLite uses
 * a temp db file. Results go to bench/results/<timestamp>.json (or --out) and are printed.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_CONFIG, validateConfig, type WorkloadConfig } from "../k6/workload.ts";
import type { GeneratorConfig, GeneratorResult } from "./generator.ts";
import { freePort, gitInfo, killChildren, seedFeeds, spawnGenerator, startBenchRedis, stopChild, track } from "./processes.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const GENERATOR_BUSY_LIMIT = 95;

type Target = "herald" | "floor";

interface Options {
  mode: "closed" | "open";
  rate: number;
  store: "redis" | "sqlite";
  targets: Target[];
  durationS: number;
  warmupS: number;
  connections: number;
  workload: WorkloadConfig;
  out: string | null;
  heraldCmd: string;
  floorCmd: string;
  serverNodeArgs: string;
  serverCpu: string;
  loadCpu: string;
  pin: boolean;
  env: Record<string, string>;
  keep: boolean;
  timeoutMs: number;
  seedConcurrency: number;
}

export interface TargetResult extends GeneratorResult {
  target: Target;
  command: string;
  valid: boolean;
  invalidReason: string | null;
  readyMs: number;
  seed: { sends: number; seconds: number; feedItems: number };
}

export interface BenchReport {
  timestamp: string;
  machine: { cpuModel: string; cores: number; kernel: string; hostLoadAvg: number[] };
  node: string;
  git: { commit: string | null; dirty: boolean | null };
  settings: Omit<Options, "env" | "keep" | "out"> & { env: string[] };
  targets: TargetResult[];
  /** Herald's ops/s divided by the floor's, when both ran. */
  heraldOverFloor: number | null;
  valid: boolean;
}

function usage(msg?: string): never {
  if (msg) console.error(`bench: ${msg}`);
  console.error(
    "usage: node bench/run.ts [--mode closed|open] [--rate N] [--store redis|sqlite] [--target herald,floor] [--duration S] [--warmup S] [--connections N] [--users N] [--seed-per-user N] [--seed N] [--out FILE] [--herald-cmd CMD] [--floor-cmd CMD] [--server-node-args ARGS] [--no-pin] [--env K=V] [--keep]",
  );
  process.exit(2);
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      mode: { type: "string", default: "closed" },
      rate: { type: "string", default: "10000" },
      store: { type: "string", default: "redis" },
      target: { type: "string" },
      duration: { type: "string", default: "20" },
      warmup: { type: "string", default: "5" },
      connections: { type: "string", default: "64" },
      users: { type: "string", default: String(DEFAULT_CONFIG.users) },
      "seed-per-user": { type: "string", default: String(DEFAULT_CONFIG.seedPerUser) },
      seed: { type: "string", default: String(DEFAULT_CONFIG.seed) },
      out: { type: "string" },
      "herald-cmd": { type: "string", default: process.env.BENCH_HERALD_CMD ?? "node src/main.js" },
      "floor-cmd": { type: "string", default: process.env.BENCH_FLOOR_CMD ?? "node bench/floor.ts" },
      "server-node-args": { type: "string", default: process.env.BENCH_SERVER_NODE_ARGS ?? "" },
      "server-cpu": { type: "string", default: "0" },
      "load-cpu": { type: "string", default: "1" },
      "no-pin": { type: "boolean", default: false },
      env: { type: "string", multiple: true, default: [] },
      keep: { type: "boolean", default: false },
      timeout: { type: "string", default: "5000" },
      "seed-concurrency": { type: "string", default: "4" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) usage();
  const num = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) usage(`--${name} must be a number ≥ ${min}`);
    return n;
  };
  if (values.mode !== "closed" && values.mode !== "open") usage("--mode is closed or open");
  if (values.store !== "redis" && values.store !== "sqlite") usage("--store is redis or sqlite");
  const floorCmd = values["floor-cmd"];
  const targets = (values.target ?? (existsSync(join(ROOT, "bench/floor.ts")) || process.env.BENCH_FLOOR_CMD ? "floor,herald" : "herald"))
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  for (const t of targets) if (t !== "herald" && t !== "floor") usage(`unknown target ${t}`);
  const env: Record<string, string> = {};
  for (const kv of values.env) {
    const at = kv.indexOf("=");
    if (at < 1) usage(`--env wants NAME=VALUE, got ${kv}`);
    env[kv.slice(0, at)] = kv.slice(at + 1);
  }
  let workload: WorkloadConfig;
  try {
    workload = validateConfig({
      ...DEFAULT_CONFIG,
      users: num("users", values.users, 1),
      seedPerUser: num("seed-per-user", values["seed-per-user"], 1),
      seed: num("seed", values.seed, 0),
    });
  } catch (e) {
    usage((e as Error).message);
  }
  return {
    mode: values.mode,
    rate: num("rate", values.rate, 1),
    store: values.store,
    targets: targets as Target[],
    durationS: num("duration", values.duration, 0.1),
    warmupS: num("warmup", values.warmup, 0),
    connections: Math.round(num("connections", values.connections, 1)),
    workload,
    out: values.out ?? null,
    heraldCmd: values["herald-cmd"],
    floorCmd,
    serverNodeArgs: values["server-node-args"],
    serverCpu: values["server-cpu"],
    loadCpu: values["load-cpu"],
    pin: !values["no-pin"],
    env,
    keep: values.keep,
    timeoutMs: num("timeout", values.timeout, 100),
    seedConcurrency: Math.round(num("seed-concurrency", values["seed-concurrency"], 1)),
  };
}

// ---------------------------------------------------------------------------------------------
// Processes

/** The command line, with `node` meaning this Node (24), optionally under taskset. */
function commandLine(cmd: string, cpu: string, pin: boolean): [string, string[]] {
  const parts = cmd
    .split(/\s+/)
    .filter(Boolean)
    .map((p, i) => (i === 0 && p === "node" ? process.execPath : p));
  if (parts.length === 0) throw new Error("empty command");
  return pin ? ["taskset", ["-c", cpu, ...parts]] : [parts[0] as string, parts.slice(1)];
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    killChildren();
    process.exit(130);
  });
}

function tail(file: string, bytes = 4000): string {
  try {
    const t = readFileSync(file, "utf8");
    return t.slice(-bytes);
  } catch {
    return "";
  }
}

// ---------------------------------------------------------------------------------------------
// A server process

/** Starts one server process of the target, pinned, and waits for /readyz, timing it. */
async function launchServer(
  target: Target,
  cmdText: string,
  nodeArgs: string,
  storeUrl: string,
  secrets: { apiKey: string; tokenSecret: string },
  opts: Options,
  logFile: string,
): Promise<{ child: ChildProcess; base: string; port: number; readyMs: number }> {
  const port = await freePort();
  const [cmd, argv] = commandLine(
    nodeArgs && /^node\s/.test(cmdText) ? `node ${nodeArgs} ${cmdText.slice(5)}` : cmdText,
    opts.serverCpu,
    opts.pin,
  );
  const log = openSync(logFile, "a");
  const t0 = performance.now();
  const child = track(
    spawn(cmd, argv, {
      cwd: ROOT,
      stdio: ["ignore", log, log],
      env: {
        ...process.env,
        NODE_ENV: "production",
        HOST: "127.0.0.1",
        PORT: String(port),
        HERALD_STORE_URL: storeUrl,
        HERALD_API_KEYS: `bench:${secrets.apiKey}`,
        HERALD_TOKEN_SECRET: secrets.tokenSecret,
        ...opts.env,
      },
    }),
  );
  closeSync(log);
  const base = `http://127.0.0.1:${port}`;
  while (performance.now() - t0 < 30_000) {
    if (child.exitCode !== null) throw new Error(`${target} exited with ${child.exitCode} before it was ready:\n${tail(logFile)}`);
    try {
      const r = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status === 200) return { child, base, port, readyMs: Math.round(performance.now() - t0) };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await stopChild(child);
  throw new Error(`${target} was not ready within 30 s:\n${tail(logFile)}`);
}

// ---------------------------------------------------------------------------------------------
// One target

async function runTarget(target: Target, opts: Options): Promise<TargetResult> {
  const dir = mkdtempSync(join(tmpdir(), `herald-bench-${target}-`));
  let redis: ChildProcess | null = null;
  let server: ChildProcess | null = null;
  const logFile = join(dir, "server.log");
  try {
    let storeUrl: string;
    if (opts.store === "redis") {
      const r = await startBenchRedis(dir, await freePort(), opts.pin ? opts.loadCpu : undefined);
      redis = r.child;
      storeUrl = r.url;
    } else {
      storeUrl = `sqlite:${join(dir, "herald.db")}`;
    }
    const cmdText = target === "herald" ? opts.heraldCmd : opts.floorCmd;
    if (target === "floor" && cmdText === "node bench/floor.ts" && !existsSync(join(ROOT, "bench/floor.ts"))) {
      throw new Error("target floor: bench/floor.ts does not exist yet (or pass --floor-cmd / BENCH_FLOOR_CMD)");
    }
    const secrets = { apiKey: randomBytes(24).toString("base64url"), tokenSecret: randomBytes(48).toString("base64url") };

    // Seeding goes through a throw-away server of the same target, stopped before the measured one
    // starts: the measured process then holds only what serving the mix needs (its RSS is the
    // budget's figure), and its start is a restart on an existing store, as in production.
    const seeder = await launchServer(target, cmdText, "", storeUrl, secrets, opts, logFile);
    server = seeder.child;
    process.stderr.write(`[${target}] seeding ${opts.workload.users} users × ${opts.workload.seedPerUser} through a seeding instance…\n`);
    const seeded = await seedFeeds(seeder.base, secrets.apiKey, opts.workload, opts.seedConcurrency);
    await stopChild(server);
    server = null;

    const measured = await launchServer(
      target,
      cmdText,
      opts.serverNodeArgs.replaceAll("{target}", target),
      storeUrl,
      secrets,
      opts,
      logFile,
    );
    server = measured.child;
    const { port, readyMs } = measured;
    process.stderr.write(
      `[${target}] seeded with ${seeded.sends} bulk sends in ${seeded.seconds} s; measured server ready in ${readyMs} ms (${opts.store}); ${opts.warmupS} s warm-up + ${opts.durationS} s measured (${opts.mode}${opts.mode === "open" ? ` at ${opts.rate}/s` : ""}, ${opts.connections} connections)…\n`,
    );

    const genCfg: GeneratorConfig = {
      host: "127.0.0.1",
      port,
      apiKey: secrets.apiKey,
      mode: opts.mode,
      rate: opts.rate,
      connections: opts.connections,
      warmupS: opts.warmupS,
      durationS: opts.durationS,
      timeoutMs: opts.timeoutMs,
      workload: opts.workload,
      ids: seeded.ids,
      runId: `bench-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`,
      serverPid: server.pid,
      redisPid: redis?.pid,
    };
    const result = await spawnGenerator(ROOT, genCfg, join(dir, "generator.json"), opts.pin ? opts.loadCpu : undefined);

    const loadCore = result.cores.find((c) => String(c.cpu) === opts.loadCpu);
    let invalidReason: string | null = null;
    if (!opts.pin) invalidReason = "not pinned (--no-pin): server and generator shared cores";
    else if (loadCore && loadCore.busyPct > GENERATOR_BUSY_LIMIT)
      invalidReason = `generator core ${opts.loadCpu} was ${loadCore.busyPct}% busy (> ${GENERATOR_BUSY_LIMIT}%): this measured the generator`;
    if (result.otherLoadPct !== null && result.otherLoadPct > 10)
      process.stderr.write(`[${target}] NOISY: other processes used ${result.otherLoadPct}% of a core during the measured window\n`);
    if (result.errors > 0)
      process.stderr.write(
        `[${target}] ${result.errors} errors; samples:\n  ${result.errorSamples.join("\n  ")}\n${tail(logFile, 2000)}\n`,
      );
    return {
      target,
      command: cmdText,
      ...result,
      valid: invalidReason === null,
      invalidReason,
      readyMs,
      seed: { sends: seeded.sends, seconds: seeded.seconds, feedItems: opts.workload.users * opts.workload.seedPerUser },
    };
  } finally {
    if (server) await stopChild(server);
    if (redis) await stopChild(redis, 5000);
    if (opts.keep) process.stderr.write(`[${target}] kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function printReport(r: BenchReport): void {
  const lines: string[] = [];
  lines.push("");
  lines.push(`Herald benchmark — ${r.timestamp}`);
  lines.push(
    `machine: ${r.machine.cpuModel} × ${r.machine.cores}, Linux ${r.machine.kernel}; node ${r.node}; commit ${r.git.commit ?? "(none)"}${r.git.dirty ? " (dirty)" : ""}`,
  );
  const s = r.settings;
  lines.push(
    `settings: ${s.mode}${s.mode === "open" ? ` at ${s.rate} ops/s offered` : ""}, store ${s.store}, ${s.connections} connections, ${s.warmupS} s warm-up + ${s.durationS} s measured, ${s.workload.users} users × ${s.workload.seedPerUser} seeded, seed ${s.workload.seed}${s.pin ? `, server on CPU ${s.serverCpu}, load on CPU ${s.loadCpu}` : ", NOT pinned"}`,
  );
  for (const t of r.targets) {
    lines.push("");
    lines.push(`[${t.target}] ${t.valid ? "" : "INVALID: "}${t.invalidReason ?? ""}`.trimEnd());
    lines.push(
      `  ops/s: ${t.opsPerSec}${t.offeredRate ? ` (offered ${t.offeredRate}, backlog at end ${t.backlogAtEnd})` : ""}   errors: ${t.errors} (non-2xx ${t.errorBreakdown.non2xx}, socket ${t.errorBreakdown.socket}, timeout ${t.errorBreakdown.timeout}; warm-up ${t.warmupErrors})`,
    );
    lines.push(
      `  cores busy: ${t.cores.map((c) => `cpu${c.cpu} ${c.busyPct}%`).join(", ")} (generator ${t.generatorCpuPct}%${t.redisCpuPct !== null ? `, redis ${t.redisCpuPct}%` : ""}, other processes ${t.otherLoadPct ?? "-"}%)   server: ${t.server.cpuUsPerOp ?? "-"} µs CPU/op, RSS ${t.server.rssMbAfter ?? "-"} MiB (through the window: ${t.server.rssMbSamples.join(", ")}), ready in ${t.readyMs} ms`,
    );
    lines.push("  latency ms        count      p50      p99    p99.9      max");
    for (const [name, l] of Object.entries(t.latencyMs)) {
      lines.push(
        `  ${name.padEnd(12)} ${String(l.count).padStart(9)} ${l.p50.toFixed(3).padStart(8)} ${l.p99.toFixed(3).padStart(8)} ${l.p999.toFixed(3).padStart(8)} ${l.max.toFixed(3).padStart(8)}`,
      );
    }
  }
  if (r.heraldOverFloor !== null) {
    lines.push("");
    lines.push(`Herald / floor: ${r.heraldOverFloor.toFixed(3)} of the floor's ops/s (the figure to trust on a noisy machine)`);
  }
  lines.push("");
  console.log(lines.join("\n"));
}

export async function main(argv: string[]): Promise<BenchReport> {
  const opts = parseOptions(argv);
  if (opts.pin) {
    try {
      execFileSync("taskset", ["-c", opts.loadCpu, "true"], { stdio: "ignore" });
    } catch {
      usage(`taskset is missing or CPU ${opts.loadCpu} does not exist; install util-linux or pass --no-pin (the run is then INVALID)`);
    }
  }
  const results: TargetResult[] = [];
  for (const t of opts.targets) results.push(await runTarget(t, opts));
  const herald = results.find((x) => x.target === "herald");
  const floor = results.find((x) => x.target === "floor");
  const { env, keep: _keep, out: _out, ...settings } = opts;
  const report: BenchReport = {
    timestamp: new Date().toISOString(),
    machine: { cpuModel: cpus()[0]?.model ?? "unknown", cores: cpus().length, kernel: release(), hostLoadAvg: [] },
    node: process.version,
    git: gitInfo(ROOT),
    settings: { ...settings, env: Object.keys(env) },
    targets: results,
    heraldOverFloor: herald && floor && floor.opsPerSec > 0 ? Math.round((herald.opsPerSec / floor.opsPerSec) * 1000) / 1000 : null,
    valid: results.every((x) => x.valid),
  };
  try {
    report.machine.hostLoadAvg = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number);
  } catch {
    // not Linux
  }
  printReport(report);
  const out = opts.out ?? join(ROOT, "bench/results", `${report.timestamp.replace(/[:.]/g, "-")}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${out}`);
  return report;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (r) => process.exit(r.targets.some((t) => t.errors > 0) ? 1 : 0),
    (e: unknown) => {
      console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
      killChildren();
      process.exit(1);
    },
  );
}
