/**
 * A local Herald deployment: N instances on consecutive ports behind HAProxy (deploy/haproxy.cfg).
 *
 *   npm run cluster            # 3 instances on :3001-3003, HAProxy on :8080, stats on :8404
 *   npm run cluster -- 5       # 5 instances (or HERALD_INSTANCES=5)
 *
 * Every instance gets the caller's environment; HERALD_STORE_URL must name a Redis (default
 * redis://127.0.0.1:6379). Ctrl-C drains the instances (SIGTERM), then stops HAProxy.
 *
 * The system tests reuse startLocalCluster() to kill and restart instances under load.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { request } from "undici";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const HAPROXY_CONFIG = join(ROOT, "deploy", "haproxy.cfg");
export const DEFAULT_STORE_URL = "redis://127.0.0.1:6379";

export type ExitInfo = { code: number | null; signal: NodeJS.Signals | null };

export type ClusterOptions = {
  /** Number of Herald instances (default 3; at most haproxySlots()). */
  instances?: number;
  /** Port of the first instance; the others follow (default 3001). */
  basePort?: number;
  /** HAProxy's public port (default 8080). */
  lbPort?: number;
  /** HAProxy's stats page (/stats) and Prometheus exporter (/metrics) port (default 8404). */
  statsPort?: number;
  /** Extra environment for the instances, over process.env. */
  env?: NodeJS.ProcessEnv;
  /** The Herald entry point (default src/main.js). */
  entry?: string;
  /** HAProxy config (default deploy/haproxy.cfg). */
  haproxyConfig?: string;
  /** How long to wait for each /readyz and for HAProxy to see every instance (default 20 s). */
  readyTimeoutMs?: number;
  /** How long stop()/kill() wait after SIGTERM before SIGKILL (default HERALD_SHUTDOWN_TIMEOUT_MS + 5 s). */
  stopTimeoutMs?: number;
  /** Receives every output line of every process; without it, lines are only kept in memory. */
  onLog?: (source: string, line: string) => void;
};

export type InstanceHandle = {
  /** 1-based, as in HAProxy's server name herald<index>. */
  readonly index: number;
  /** HAProxy's server name, e.g. "herald1". */
  readonly name: string;
  readonly port: number;
  /** Direct URL, bypassing HAProxy. */
  readonly url: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Resolves when the current process exits. */
  readonly exited: Promise<ExitInfo>;
  /** Sends a signal (default SIGTERM) and resolves when the process has exited. SIGKILL after stopTimeoutMs. */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
  /** Starts the instance again on its port (after stopping it with SIGTERM if it runs); waits for /readyz and, if HAProxy runs, until HAProxy marks it UP. */
  restart(): Promise<void>;
  /** The last lines the process printed (stdout and stderr). */
  output(): string;
};

export type LocalCluster = {
  /** HAProxy's URL, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  /** HAProxy's stats page. */
  readonly statsUrl: string;
  readonly instances: readonly InstanceHandle[];
  /** The environment every instance was started with (including the API keys). */
  readonly env: Readonly<NodeJS.ProcessEnv>;
  /** Set when the cluster generated development credentials because none were given. */
  readonly devApiKey?: string;
  readonly haproxy: { readonly pid: number | undefined; output(): string };
  /** HAProxy's view of each server, e.g. { herald1: "UP", herald2: "DOWN", herald3: "UP 1/2" } (the stats "status" column). */
  serverStates(): Promise<Record<string, string>>;
  /** Waits until HAProxy reports the named server (e.g. "herald2") in the given state ("UP", "DOWN", "MAINT"...). */
  waitForServerState(name: string, state: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM every instance, wait for them to drain and exit, then stop HAProxy. Idempotent. */
  stop(): Promise<void>;
};

export class ClusterError extends Error {}

/** The number of server slots (LB_SERVER_1..LB_SERVER_n) that the HAProxy config offers. */
export function haproxySlots(config = HAPROXY_CONFIG): number {
  const text = readFileSync(config, "utf8");
  const slots = [...text.matchAll(/^\s*server\s+\S+\s+"\$\{LB_SERVER_(\d+)\}"/gm)].map((m) => Number(m[1]));
  return slots.length === 0 ? 0 : Math.max(...slots);
}

/** The environment deploy/haproxy.cfg needs for these instance ports. */
export function haproxyEnvironment(opts: {
  ports: readonly number[];
  host?: string;
  lbPort: number;
  statsPort: number;
}): Record<string, string> {
  const env: Record<string, string> = { LB_PORT: String(opts.lbPort), LB_STATS_PORT: String(opts.statsPort) };
  opts.ports.forEach((port, i) => {
    env[`LB_SERVER_${i + 1}`] = `${opts.host ?? "127.0.0.1"}:${port}`;
  });
  return env;
}

/** Throws a ClusterError unless the store URL names Redis (SQLite serves one process only). */
export function checkStoreUrl(url: string): void {
  if (url.startsWith("sqlite:")) {
    throw new ClusterError(
      `HERALD_STORE_URL=${url}: the SQLite store serves one process, so it cannot back several instances. ` +
        `Use Redis, e.g. HERALD_STORE_URL=${DEFAULT_STORE_URL} npm run cluster`,
    );
  }
  if (!/^(redis|rediss|redis\+cluster):\/\//.test(url)) {
    throw new ClusterError(`HERALD_STORE_URL=${url}: expected redis://, rediss:// or redis+cluster://`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every child we started, so that an abrupt exit of this process does not leave orphans behind. */
const children = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  children.add(child);
  child.once("exit", () => children.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const c of children) {
        try {
          if (c.pid) process.kill(c.pid, "SIGKILL");
        } catch {}
      }
    });
  }
}

/** Keeps the last lines of a process's output, and forwards them if asked. */
function capture(child: ChildProcess, source: string, onLog?: (source: string, line: string) => void): () => string {
  const lines: string[] = [];
  const take = (stream: NodeJS.ReadableStream | null) => {
    if (!stream) return;
    let rest = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        if (lines.length > 200) lines.shift();
        onLog?.(source, line);
      }
    });
  };
  take(child.stdout);
  take(child.stderr);
  return () => lines.join("\n");
}

function exitPromise(child: ChildProcess): Promise<ExitInfo> {
  return new Promise((resolveExit) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolveExit({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once("exit", (code, signal) => resolveExit({ code, signal }));
    // spawn failures (ENOENT) emit "error" and possibly no "exit".
    child.once("error", () => resolveExit({ code: child.exitCode ?? -1, signal: null }));
  });
}

async function httpStatus(url: string, timeoutMs = 1000): Promise<number | undefined> {
  try {
    const res = await request(url, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs, reset: true });
    await res.body.dump();
    return res.statusCode;
  } catch {
    return undefined;
  }
}

async function terminate(child: ChildProcess, exited: Promise<ExitInfo>, signal: NodeJS.Signals, graceMs: number): Promise<ExitInfo> {
  if (child.exitCode === null && child.signalCode === null && child.pid) {
    try {
      process.kill(child.pid, signal);
    } catch {}
    const timer = setTimeout(() => {
      try {
        if (child.pid) process.kill(child.pid, "SIGKILL");
      } catch {}
    }, graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  }
  return exited;
}

/**
 * Starts N Herald instances on consecutive ports, waits until each answers /readyz, then starts
 * HAProxy in front of them and waits until HAProxy sees every instance UP.
 *
 * @example
 * const cluster = await startLocalCluster({ instances: 3, basePort: 4001, lbPort: 4080, statsPort: 4404,
 *   env: { HERALD_STORE_URL: "redis://127.0.0.1:6379", HERALD_API_KEYS: "acme:0123456789abcdef" } });
 * await cluster.instances[1].kill("SIGKILL");
 * await cluster.instances[1].restart();
 * await cluster.stop();
 */
export async function startLocalCluster(options: ClusterOptions = {}): Promise<LocalCluster> {
  const count = options.instances ?? 3;
  const basePort = options.basePort ?? 3001;
  const lbPort = options.lbPort ?? 8080;
  const statsPort = options.statsPort ?? 8404;
  const entry = options.entry ?? join(ROOT, "src", "main.js");
  const config = options.haproxyConfig ?? HAPROXY_CONFIG;
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const slots = haproxySlots(config);
  if (!Number.isInteger(count) || count < 1 || count > slots) {
    throw new ClusterError(`instances: expected 1 to ${slots} (the server slots in ${config}), got ${count}`);
  }

  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  env.HERALD_STORE_URL ||= DEFAULT_STORE_URL;
  checkStoreUrl(env.HERALD_STORE_URL);
  env.HOST ||= "127.0.0.1";
  // Instances started at the same moment would each generate their own development credentials
  // (src/config.ts does it when keys are missing), and each would then reject the others' keys.
  // Generate one set for all of them instead.
  let devApiKey: string | undefined;
  if (env.NODE_ENV !== "production" && (!env.HERALD_API_KEYS || !env.HERALD_TOKEN_SECRET)) {
    if (!env.HERALD_API_KEYS) {
      devApiKey = `hk_dev_${randomBytes(24).toString("base64url")}`;
      env.HERALD_API_KEYS = `dev:${devApiKey}`;
    }
    env.HERALD_TOKEN_SECRET ||= randomBytes(32).toString("base64url");
  }
  const stopTimeoutMs = options.stopTimeoutMs ?? Number(env.HERALD_SHUTDOWN_TIMEOUT_MS || 10_000) + 5_000;

  let haproxyRunning = false;
  let lb: ReturnType<typeof makeHaproxy> | undefined;

  const makeInstance = (index: number): InstanceHandle & { start(): Promise<void> } => {
    const port = basePort + index - 1;
    const name = `herald${index}`;
    const url = `http://127.0.0.1:${port}`;
    let child: ChildProcess | undefined;
    let exited: Promise<ExitInfo> = Promise.resolve({ code: null, signal: null });
    let output = () => "";

    const start = async () => {
      child = spawn(process.execPath, [entry], {
        cwd: ROOT,
        env: { ...env, PORT: String(port) },
        stdio: ["ignore", "pipe", "pipe"],
        // Own process group: a Ctrl-C in the terminal reaches only this script, which then stops
        // the instances before HAProxy, in order.
        detached: true,
      });
      track(child);
      output = capture(child, name, options.onLog);
      exited = exitPromise(child);
      const deadline = Date.now() + readyTimeoutMs;
      let done = false;
      exited.then(() => {
        done = true;
      });
      while (Date.now() < deadline) {
        if (done) {
          const info = await exited;
          throw new ClusterError(`${name} exited (code ${info.code}, signal ${info.signal}) before it was ready:\n${output()}`);
        }
        if ((await httpStatus(`${url}/readyz`)) === 200) return;
        await sleep(100);
      }
      throw new ClusterError(`${name} did not answer 200 on ${url}/readyz within ${readyTimeoutMs} ms:\n${output()}`);
    };

    const handle = {
      index,
      name,
      port,
      url,
      get pid() {
        return child?.pid;
      },
      get running() {
        return !!child && child.exitCode === null && child.signalCode === null;
      },
      get exited() {
        return exited;
      },
      kill: (signal: NodeJS.Signals = "SIGTERM") => (child ? terminate(child, exited, signal, stopTimeoutMs) : exited),
      restart: async () => {
        if (handle.running) await handle.kill("SIGTERM");
        await start();
        if (haproxyRunning && lb) await lb.waitForServerState(name, "UP", readyTimeoutMs);
      },
      output: () => output(),
      start,
    };
    return handle;
  };

  const makeHaproxy = () => {
    const child = spawn("haproxy", ["-f", config, "-db"], {
      cwd: ROOT,
      env: { ...process.env, ...haproxyEnvironment({ ports: instances.map((i) => i.port), lbPort, statsPort }) },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    track(child);
    const output = capture(child, "haproxy", options.onLog);
    let spawnError: Error | undefined;
    child.once("error", (err) => {
      spawnError = err;
    });
    const exited = exitPromise(child);
    const statsCsv = `http://127.0.0.1:${statsPort}/stats;csv`;
    const serverStates = async (): Promise<Record<string, string>> => {
      const res = await request(statsCsv, { headersTimeout: 1000, bodyTimeout: 1000, reset: true });
      const text = await res.body.text();
      const states: Record<string, string> = {};
      for (const line of text.split("\n")) {
        const cols = line.split(",");
        if (cols[0] === "herald" && cols[1] && cols[1] !== "BACKEND") states[cols[1]] = cols[17] ?? "";
      }
      return states;
    };
    const waitForServerState = async (name: string, state: string, timeoutMs = readyTimeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      let last: Record<string, string> | string = "no answer";
      while (Date.now() < deadline) {
        if (spawnError || child.exitCode !== null) break;
        try {
          last = await serverStates();
          if (last[name] === state) return;
        } catch (err) {
          last = String(err);
        }
        await sleep(100);
      }
      if (spawnError) {
        const hint = (spawnError as NodeJS.ErrnoException).code === "ENOENT" ? " (install it: apt-get install -y haproxy)" : "";
        throw new ClusterError(`could not start haproxy: ${spawnError.message}${hint}`);
      }
      if (child.exitCode !== null) throw new ClusterError(`haproxy exited with code ${child.exitCode}:\n${output()}`);
      throw new ClusterError(`HAProxy did not report ${name} ${state} within ${timeoutMs} ms; last: ${JSON.stringify(last)}\n${output()}`);
    };
    return { child, output, exited, serverStates, waitForServerState };
  };

  const instances = Array.from({ length: count }, (_, i) => makeInstance(i + 1));
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      await Promise.all(instances.map((i) => i.kill("SIGTERM")));
      if (lb) await terminate(lb.child, lb.exited, "SIGTERM", 5_000);
      haproxyRunning = false;
    })();
    return stopped;
  };

  try {
    await Promise.all(instances.map((i) => i.start()));
    lb = makeHaproxy();
    haproxyRunning = true;
    for (const i of instances) await lb.waitForServerState(i.name, "UP");
  } catch (err) {
    await stop();
    throw err;
  }
  const haproxy = lb;

  return {
    url: `http://127.0.0.1:${lbPort}`,
    statsUrl: `http://127.0.0.1:${statsPort}/stats`,
    instances,
    env,
    devApiKey,
    haproxy: {
      get pid() {
        return haproxy.child.pid;
      },
      output: haproxy.output,
    },
    serverStates: haproxy.serverStates,
    waitForServerState: haproxy.waitForServerState,
    stop,
  };
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  const instances = Number(arg ?? process.env.HERALD_INSTANCES ?? 3);
  if (arg === "-h" || arg === "--help" || !Number.isInteger(instances)) {
    console.log("usage: npm run cluster [-- <instances>]   (or HERALD_INSTANCES=<n>; default 3)");
    process.exit(arg === "-h" || arg === "--help" ? 0 : 2);
  }
  const prefix = (source: string, line: string) => process.stdout.write(`${source.padEnd(8)} | ${line}\n`);
  let cluster: LocalCluster | undefined;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: draining the instances, then stopping HAProxy...`);
    await cluster?.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));

  try {
    cluster = await startLocalCluster({ instances, onLog: prefix });
  } catch (err) {
    console.error(`cluster: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  if (stopping) return;
  const key = cluster.devApiKey ? cluster.devApiKey : "<one of the keys in your HERALD_API_KEYS>";
  console.log(
    [
      "",
      `Herald: ${cluster.instances.length} instances (${cluster.instances.map((i) => i.port).join(", ")}) on ${cluster.env.HERALD_STORE_URL}`,
      `  API:   ${cluster.url}   (round robin; X-Herald-Instance names the instance that answered)`,
      `  Stats: ${cluster.statsUrl}`,
      cluster.devApiKey ? `  Development API key (tenant "dev", valid until Ctrl-C): ${key}` : "  API keys: from HERALD_API_KEYS",
      `  curl -H 'Authorization: Bearer ${key}' ${cluster.url}/v1/users/alice/notifications`,
      "Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
