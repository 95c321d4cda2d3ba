/**
 * Test harness: private, throw-away Redis servers and Redis Clusters.
 *
 * Use it for every test that stops, kills, restarts, persists or clusters
 * Redis. The shared server on 127.0.0.1:6379 is never touched: every server
 * started here gets its own port, its own temp dir and its own process, which
 * is a direct (non-daemonized) child of the test process.
 *
 * Guarantees:
 * - Every process started here is killed when the test process ends: on a
 *   normal exit or an uncaught error (`process.on('exit')`), on
 *   SIGTERM/SIGINT/SIGHUP when nothing else handles them (Vitest stops its
 *   fork workers with SIGTERM), and, where util-linux `setpriv --pdeathsig`
 *   exists, even when the test process is SIGKILLed (the kernel kills the
 *   server when its parent dies).
 * - `cleanup()` kills the processes and removes their temp dirs. Temp dirs
 *   left by a crash are removed by the exit hook too.
 *
 * The harness has no client dependency: readiness checks and cluster queries
 * speak RESP over raw `node:net` sockets ({@link redisCommand}).
 *
 * Binaries: `redis-server` and `redis-cli` from PATH, or `REDIS_SERVER_BIN`
 * and `REDIS_CLI_BIN`.
 *
 * @example
 * ```ts
 * const redis = await startRedis();
 * try {
 *   // point Herald at redis.url, then:
 *   await redis.stop();  // SIGTERM, wait for exit
 *   await redis.start(); // same port, same dir
 * } finally {
 *   await redis.cleanup();
 * }
 * ```
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const HOST = "127.0.0.1";
const SHARED_REDIS_PORT = 6379;
const REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN ?? "redis-server";
const REDIS_CLI_BIN = process.env.REDIS_CLI_BIN ?? "redis-cli";
/** How long a server may take to answer PING after spawn. */
const START_TIMEOUT_MS = 10_000;
/** How long `stop()` waits after SIGTERM before it escalates to SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;
/** Attempts with a fresh port when the chosen one turns out to be taken. */
const PORT_ATTEMPTS = 8;

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/** Lifecycle controls of one private redis-server process. */
export interface RedisProcessControls {
  /** The TCP port the server listens on (127.0.0.1 only). */
  readonly port: number;
  /** The server's temp dir (`--dir`): RDB/AOF files, nodes.conf, redis.log. */
  readonly dir: string;
  /** PID of the running server, or undefined while it is stopped. */
  readonly pid: number | undefined;
  /** Whether the server process is currently alive. */
  readonly running: boolean;
  /** SIGTERM the server and wait until it has exited (SIGKILL after 10 s). No-op if stopped. */
  stop(): Promise<void>;
  /** SIGKILL the server (a crash: no shutdown save) and wait until it has exited. No-op if stopped. */
  kill(): Promise<void>;
  /**
   * Start the server again on the same port, dir and arguments, and wait
   * until it answers PING. No-op if it is running. Rejects if the port has
   * been taken meanwhile.
   */
  start(): Promise<void>;
}

/** A private redis-server started by {@link startRedis}. */
export interface RedisServer extends RedisProcessControls {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Kill the server if it runs (SIGKILL: its data is being discarded anyway) and `rm -rf` its dir. Idempotent. */
  cleanup(): Promise<void>;
}

/**
 * One master of a cluster started by {@link startRedisCluster}. Its `start()`
 * also waits until the node reports `cluster_state:ok` again (a restarted
 * master answers CLUSTERDOWN for about 2 s), provided a majority of the
 * masters is running; otherwise it resolves once the node answers PING.
 */
export interface RedisClusterNode extends RedisProcessControls {
  /** The cluster bus port (`--cluster-port`), chosen separately from `port`. */
  readonly busPort: number;
}

/** A private Redis Cluster started by {@link startRedisCluster}. */
export interface RedisClusterHandle {
  /** The masters, in the order given to `redis-cli --cluster create`. */
  readonly nodes: RedisClusterNode[];
  /** `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,…` — Herald's cluster URL form. */
  readonly url: string;
  /** Seed nodes, as ioredis/node-redis cluster clients want them. */
  readonly seeds: Array<{ host: string; port: number }>;
  /**
   * The master that owns `key`'s hash slot, from `CLUSTER KEYSLOT` and
   * `CLUSTER SLOTS` asked of the first live node. A killed master still owns
   * its slots (there are no replicas to fail over to).
   */
  masterForKey(key: string): Promise<{ host: string; port: number; id: string; slot: number }>;
  /** Kill every node and remove every temp dir. Idempotent. */
  cleanup(): Promise<void>;
}

/** Options of {@link startRedis}. */
export interface StartRedisOptions {
  /** Extra redis-server arguments, appended last so they override the defaults, e.g. `['--appendonly', 'yes']`. */
  args?: string[];
}

/** Options of {@link startRedisCluster}. */
export interface StartRedisClusterOptions {
  /** Number of masters (no replicas). Default 3, the minimum redis-cli accepts. */
  masters?: number;
  /** `cluster-node-timeout` in ms. Default 2000. */
  nodeTimeoutMs?: number;
  /** Extra redis-server arguments for every node, appended last. */
  args?: string[];
}

// ---------------------------------------------------------------------------
// Process tracking: nothing outlives the test process
// ---------------------------------------------------------------------------

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let hooksInstalled = false;

function isRunning(child: ChildProcess | undefined): boolean {
  return child !== undefined && child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/** Synchronously SIGKILL every tracked child and remove every tracked dir. */
function killEverythingSync(): void {
  for (const child of liveChildren) {
    if (isRunning(child)) {
      try {
        process.kill(child.pid as number, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  liveChildren.clear();
  for (const dir of liveDirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // best effort while exiting
    }
  }
  liveDirs.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killEverythingSync);
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    const onSignal = (): void => {
      // If someone else handles this signal (an app's graceful shutdown, say),
      // the process is not dying now; the 'exit' hook will clean up later.
      if (process.listenerCount(signal) > 1) return;
      killEverythingSync();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal); // die of the signal, as by default
    };
    process.on(signal, onSignal);
  }
}

let pdeathsig: boolean | undefined;

/**
 * Whether servers are started under `setpriv --pdeathsig KILL`, so that the
 * kernel kills them even if the test process itself is SIGKILLed.
 */
export function parentDeathSignalSupported(): boolean {
  if (pdeathsig === undefined) {
    const probe = spawnSync("setpriv", ["--pdeathsig", "KILL", "--", "true"], { stdio: "ignore" });
    pdeathsig = probe.status === 0;
  }
  return pdeathsig;
}

// ---------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen({ port, host: HOST, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function listenOnZero(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ port: 0, host: HOST, exclusive: true }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The kernel's ephemeral port range (outgoing connections take their source ports from it). */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (low && high) return [low, high];
  } catch {
    // not Linux
  }
  return [32768, 60999];
}

/**
 * A port that is free right now (checked by binding it with node:net).
 *
 * It is picked at random *below* the kernel's ephemeral range rather than by
 * binding port 0, because port 0 hands out ephemeral ports: once a server is
 * stopped, a client reconnecting in a loop can be given that very port as its
 * source port (or even connect to itself, TCP simultaneous open), and the
 * server could not `start()` again on it. Falls back to port 0 when the range
 * below the ephemeral one is too small.
 */
async function freePort(exclude: ReadonlySet<number> = new Set()): Promise<number> {
  const [ephemeralLow] = ephemeralRange();
  const low = 20_000;
  const high = ephemeralLow - 1;
  for (let i = 0; i < 50 && high - low > 1000; i++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (port === SHARED_REDIS_PORT || exclude.has(port)) continue;
    if (await canListen(port)) return port;
  }
  for (;;) {
    const port = await listenOnZero();
    if (port !== SHARED_REDIS_PORT && !exclude.has(port)) return port;
  }
}

// ---------------------------------------------------------------------------
// A minimal RESP client (no dependency)
// ---------------------------------------------------------------------------

/** An error reply (`-ERR …`, `-MOVED …`, `-CLUSTERDOWN …`) from Redis. */
export class RedisReplyError extends Error {
  override name = "RedisReplyError";
}

/** A decoded RESP2 reply. Error replies nested in arrays appear as {@link RedisReplyError} values. */
export type RespValue = string | number | null | RedisReplyError | RespValue[];

function encodeCommand(args: readonly string[]): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  return out;
}

function parseReply(buf: Buffer, offset: number): { value: RespValue; next: number } | undefined {
  if (offset >= buf.length) return undefined;
  const eol = buf.indexOf("\r\n", offset);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[offset] as number);
  const line = buf.toString("utf8", offset + 1, eol);
  const after = eol + 2;
  switch (type) {
    case "+":
      return { value: line, next: after };
    case "-":
      return { value: new RedisReplyError(line), next: after };
    case ":":
      return { value: Number(line), next: after };
    case "$": {
      const length = Number(line);
      if (length < 0) return { value: null, next: after };
      if (buf.length < after + length + 2) return undefined;
      return { value: buf.toString("utf8", after, after + length), next: after + length + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, next: after };
      const items: RespValue[] = [];
      let next = after;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, next);
        if (!item) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

/**
 * Send one command to a Redis server over a fresh TCP connection and return
 * its reply. An error reply rejects with {@link RedisReplyError}; so do a
 * refused connection and a timeout (default 1000 ms).
 *
 * @example `await redisCommand(server.port, ['CLUSTER', 'INFO'])`
 */
export function redisCommand(
  port: number,
  args: readonly string[],
  options: { host?: string; timeoutMs?: number } = {},
): Promise<RespValue> {
  const host = options.host ?? HOST;
  const timeoutMs = options.timeoutMs ?? 1000;
  return new Promise((resolve, reject) => {
    let buffer: Buffer = Buffer.alloc(0);
    let settled = false;
    const socket = net.connect({ port, host });
    const finish = (error: Error | undefined, value?: RespValue): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value as RespValue);
    };
    const timer = setTimeout(() => finish(new Error(`${host}:${port} did not answer ${args[0]} within ${timeoutMs} ms`)), timeoutMs);
    socket.on("connect", () => socket.write(encodeCommand(args)));
    socket.on("data", (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      let reply: ReturnType<typeof parseReply>;
      try {
        reply = parseReply(buffer, 0);
      } catch (error) {
        finish(error as Error);
        return;
      }
      if (!reply) return;
      if (reply.value instanceof RedisReplyError) finish(reply.value);
      else finish(undefined, reply.value);
    });
    socket.on("error", (error) => finish(error));
    socket.on("close", () => finish(new Error(`${host}:${port} closed the connection before replying to ${args[0]}`)));
  });
}

// ---------------------------------------------------------------------------
// One redis-server process
// ---------------------------------------------------------------------------

class RedisStartError extends Error {
  override name = "RedisStartError";
  addressInUse = false;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function logTail(dir: string): Promise<string> {
  try {
    const log = await readFile(path.join(dir, "redis.log"), "utf8");
    return log.split("\n").slice(-15).join("\n");
  } catch {
    return "(no redis.log)";
  }
}

function spawnServer(port: number, dir: string, args: readonly string[]): ChildProcess {
  installExitHooks();
  // biome-ignore format: flag/value pairs
  const serverArgs = [
    "--port", String(port),
    "--bind", HOST,
    "--save", "",
    "--appendonly", "no",
    "--dir", dir,
    "--logfile", path.join(dir, "redis.log"),
    ...args,
  ];
  const [command, commandArgs] = parentDeathSignalSupported()
    ? ["setpriv", ["--pdeathsig", "KILL", "--", REDIS_SERVER_BIN, ...serverArgs]]
    : [REDIS_SERVER_BIN, serverArgs];
  // setpriv execs redis-server, so child.pid is the server's pid.
  const child = spawn(command, commandArgs, { cwd: dir, stdio: "ignore" });
  child.on("error", () => {}); // e.g. ENOENT; surfaced by waitUntilReady
  if (child.pid !== undefined) liveChildren.add(child);
  child.once("exit", () => liveChildren.delete(child));
  // A leaked server must not keep a script's event loop alive; the exit hook kills it.
  child.unref();
  return child;
}

/** Wait until the server we spawned (checked by pid, not just by port) answers PING. */
async function waitUntilReady(child: ChildProcess, port: number, dir: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let spawnError: Error | undefined;
  child.once("error", (error) => {
    spawnError = error;
  });
  for (;;) {
    if (child.pid === undefined) {
      // spawn failed (ENOENT, say); its 'error' event comes on the next tick
      if (!spawnError) await sleep(10);
      throw new RedisStartError(`could not spawn ${REDIS_SERVER_BIN}: ${spawnError?.message ?? "no pid"}`);
    }
    if (!isRunning(child)) {
      const tail = await logTail(dir);
      const error = new RedisStartError(
        `redis-server on port ${port} exited (code ${child.exitCode}, signal ${child.signalCode}) during startup:\n${tail}`,
      );
      error.addressInUse = /address already in use/i.test(tail);
      throw error;
    }
    try {
      if ((await redisCommand(port, ["PING"], { timeoutMs: 500 })) === "PONG") {
        const info = await redisCommand(port, ["INFO", "server"], { timeoutMs: 500 });
        // Another process may hold the port; then ours is about to exit with EADDRINUSE.
        if (typeof info === "string" && info.includes(`process_id:${child.pid}\r\n`)) return;
      }
    } catch {
      // not listening yet, or -LOADING
    }
    if (Date.now() > deadline) {
      await terminate(child, "SIGKILL");
      throw new RedisStartError(`redis-server on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms:\n${await logTail(dir)}`);
    }
    await sleep(20);
  }
}

async function terminate(child: ChildProcess | undefined, signal: "SIGTERM" | "SIGKILL"): Promise<void> {
  if (!child || !isRunning(child)) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.ref(); // keep the event loop alive while we wait
  child.kill(signal);
  if (signal === "SIGTERM") {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) child.kill("SIGKILL");
  }
  await exited;
}

interface ManagedProcess extends RedisProcessControls {
  cleanup(): Promise<void>;
}

/**
 * Create a temp dir, pick free ports, spawn, wait for PING. Retries with new
 * ports when one turns out to be taken. `argsFor` builds the extra arguments
 * from the chosen ports (a cluster node needs a bus port too).
 */
async function launchManaged(
  label: string,
  extraPorts: number,
  argsFor: (ports: number[]) => string[],
): Promise<ManagedProcess & { extraPorts: number[] }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `herald-${label}-`));
  liveDirs.add(dir);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const extra: number[] = [];
    for (let i = 0; i < extraPorts; i++) extra.push(await freePort(new Set([port, ...extra])));
    const args = argsFor(extra);
    let child = spawnServer(port, dir, args);
    try {
      await waitUntilReady(child, port, dir);
    } catch (error) {
      if (error instanceof RedisStartError && error.addressInUse && attempt < PORT_ATTEMPTS) {
        // so that the next attempt's failure is judged by its own log lines
        await rm(path.join(dir, "redis.log"), { force: true });
        continue;
      }
      await rm(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
      throw error;
    }
    let cleanedUp = false;
    const managed: ManagedProcess & { extraPorts: number[] } = {
      port,
      dir,
      extraPorts: extra,
      get pid() {
        return isRunning(child) ? child.pid : undefined;
      },
      get running() {
        return isRunning(child);
      },
      stop: () => terminate(child, "SIGTERM"),
      kill: () => terminate(child, "SIGKILL"),
      async start() {
        if (cleanedUp) throw new Error(`redis-server on port ${port} has been cleaned up`);
        if (isRunning(child)) return;
        child = spawnServer(port, dir, args);
        await waitUntilReady(child, port, dir);
      },
      async cleanup() {
        cleanedUp = true;
        await terminate(child, "SIGKILL");
        await rm(dir, { recursive: true, force: true, maxRetries: 3 });
        liveDirs.delete(dir);
      },
    };
    return managed;
  }
}

/**
 * The public controls of a managed process, plus `extra` fields. Built by
 * assignment, not spread: spreading would freeze the `pid`/`running` getters.
 */
function controlsOf<T extends object>(managed: ManagedProcess, extra: T): RedisProcessControls & T {
  const controls: RedisProcessControls = {
    port: managed.port,
    dir: managed.dir,
    get pid() {
      return managed.pid;
    },
    get running() {
      return managed.running;
    },
    stop: () => managed.stop(),
    kill: () => managed.kill(),
    start: () => managed.start(),
  };
  return Object.assign(controls, extra);
}

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/**
 * Start a private redis-server on a free 127.0.0.1 port, in a fresh temp dir,
 * with persistence off (`--save '' --appendonly no`) unless `options.args`
 * turns it on, and wait until it answers PING.
 *
 * The process is a direct child of the test process and is killed when the
 * test process ends, even on failure. Always call `cleanup()` (in `afterAll`
 * or a `finally`) to remove the temp dir promptly.
 *
 * @example
 * ```ts
 * // AOF with fsync on every write, to test durability across kill()+start():
 * const redis = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
 * ```
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const userArgs = options.args ?? [];
  const managed = await launchManaged("redis", 0, () => userArgs);
  return controlsOf(managed, {
    url: `redis://${HOST}:${managed.port}`,
    cleanup: () => managed.cleanup(),
  });
}

function execCli(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(REDIS_CLI_BIN, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${REDIS_CLI_BIN} ${args.join(" ")} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/**
 * Wait until `CLUSTER INFO` on every one of `nodes` says `cluster_state:ok`,
 * with all 16384 slots assigned and all `masters` nodes known.
 */
async function waitForClusterOk(nodes: readonly ManagedProcess[], masters: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    const states = await Promise.all(
      nodes.map(async (node) => {
        try {
          const info = parseInfo(String(await redisCommand(node.port, ["CLUSTER", "INFO"])));
          last = `${node.port}: ${info.get("cluster_state")}, ${info.get("cluster_slots_assigned")} slots, ${info.get("cluster_known_nodes")} nodes`;
          return (
            info.get("cluster_state") === "ok" &&
            info.get("cluster_slots_assigned") === "16384" &&
            info.get("cluster_known_nodes") === String(masters)
          );
        } catch (error) {
          last = `${node.port}: ${(error as Error).message}`;
          return false;
        }
      }),
    );
    if (states.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`Redis Cluster did not reach cluster_state:ok within ${timeoutMs} ms (${last})`);
    await sleep(50);
  }
}

/**
 * Start a private Redis Cluster of `masters` masters (default 3) and no
 * replicas, each a redis-server in its own temp dir on its own free port,
 * with `--cluster-enabled yes --cluster-node-timeout 2000
 * --cluster-require-full-coverage no`: when one master dies, the slots of
 * the others keep working, which is what the "one master down" tests need.
 *
 * The slots are assigned with `redis-cli --cluster create … --cluster-replicas 0
 * --cluster-yes`, and the promise resolves once `CLUSTER INFO` on every node
 * says `cluster_state:ok`, all 16384 slots assigned and every node known.
 *
 * Each node's cluster bus port is chosen separately (`--cluster-port`): the
 * default, port + 10000, would be above 65535 for ports above 55535.
 *
 * @example
 * ```ts
 * const cluster = await startRedisCluster();
 * // HERALD_STORE_URL=cluster.url
 * const owner = await cluster.masterForKey('h:{t1:u1}:feed');
 * await cluster.nodes.find((n) => n.port === owner.port)!.kill();
 * await cluster.cleanup();
 * ```
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 2000;
  if (!Number.isInteger(masters) || masters < 3) {
    throw new Error(`a Redis Cluster needs at least 3 masters (redis-cli --cluster create), got ${masters}`);
  }
  const userArgs = options.args ?? [];
  // biome-ignore format: flag/value pairs
  const clusterArgs = (busPort: number): string[] => [
    "--cluster-enabled", "yes",
    "--cluster-config-file", "nodes.conf",
    "--cluster-node-timeout", String(nodeTimeoutMs),
    // Slots of live masters keep working while another master is down.
    "--cluster-require-full-coverage", "no",
    // The default bus port, port + 10000, overflows for ports above 55535.
    "--cluster-port", String(busPort),
    ...userArgs,
  ];
  const settled = await Promise.allSettled(
    Array.from({ length: masters }, () => launchManaged("redis-cluster", 1, (extraPorts) => clusterArgs(extraPorts[0] as number))),
  );
  const managed = settled.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const cleanup = async (): Promise<void> => {
    await Promise.all(managed.map((node) => node.cleanup()));
  };
  const failed = settled.find((result) => result.status === "rejected");
  if (failed) {
    await cleanup();
    throw failed.reason;
  }

  try {
    const addresses = managed.map((node) => `${HOST}:${node.port}`);
    await execCli(["--cluster", "create", ...addresses, "--cluster-replicas", "0", "--cluster-yes"], 30_000);
    await waitForClusterOk(managed, masters, 20_000);
  } catch (error) {
    await cleanup();
    throw error;
  }

  const nodes: RedisClusterNode[] = managed.map((node) => {
    const controls = controlsOf(node, { busPort: node.extraPorts[0] as number });
    controls.start = async () => {
      await node.start();
      // A restarted master reports CLUSTERDOWN for its first 2 s (Redis's
      // CLUSTER_WRITABLE_DELAY). Wait that out, unless too few masters run for
      // it to ever reach cluster_state:ok (a restart of the whole cluster).
      const running = managed.filter((other) => other.running).length;
      if (running > masters / 2) await waitForClusterOk([node], masters, 10_000);
    };
    return controls;
  });
  const seeds = managed.map((node) => ({ host: HOST, port: node.port }));

  return {
    nodes,
    seeds,
    url: `redis+cluster://${seeds.map((seed) => `${seed.host}:${seed.port}`).join(",")}`,
    async masterForKey(key) {
      let lastError: unknown;
      for (const node of managed) {
        if (!node.running) continue;
        try {
          const slot = await redisCommand(node.port, ["CLUSTER", "KEYSLOT", key]);
          const ranges = await redisCommand(node.port, ["CLUSTER", "SLOTS"]);
          if (typeof slot !== "number" || !Array.isArray(ranges)) throw new Error("unexpected CLUSTER reply");
          for (const range of ranges) {
            if (!Array.isArray(range)) continue;
            const [start, end, master] = range;
            if (typeof start === "number" && typeof end === "number" && start <= slot && slot <= end && Array.isArray(master)) {
              const [host, port, id] = master;
              return { host: String(host) || HOST, port: Number(port), id: String(id), slot };
            }
          }
          throw new Error(`no master owns slot ${slot}`);
        } catch (error) {
          lastError = error;
        }
      }
      throw new Error(`could not find the master of ${JSON.stringify(key)}: ${String(lastError ?? "no node is running")}`);
    },
    cleanup,
  };
}

/**
 * Whether a process is alive (not gone, not a zombie). For tests that check
 * that the harness left nothing behind.
 */
export function processAlive(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (existsSync("/proc/self/stat")) {
    try {
      const text = readFileSync(stat, "utf8");
      // "pid (comm) S …": the state follows the last ')'.
      return text.slice(text.lastIndexOf(")") + 2, text.lastIndexOf(")") + 3) !== "Z";
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
