/**
 * Process and seeding helpers shared by the benchmark drivers (run.ts, scale.ts): child tracking
 * (so nothing outlives a driver), a private redis-server, seeding the feeds, and git facts.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { request } from "undici";
import { assertSeeded, emptySeedIds, type SeedIds, seedSends, type WorkloadConfig } from "../k6/workload.ts";
import type { GeneratorConfig, GeneratorResult } from "./generator.ts";

/** Every child a driver started and that has not exited yet. */
export const children = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL after graceMs; resolves when the child has exited. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

export function killChildren(): void {
  for (const c of children) c.kill("SIGKILL");
}

/** A port the kernel just gave out on 127.0.0.1 (free at the time of asking). */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = net.createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => ok(port));
    });
  });
}

export function redisPing(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    let data = "";
    const done = (v: boolean) => {
      sock.destroy();
      ok(v);
    };
    sock.setTimeout(500, () => done(false));
    sock.on("connect", () => sock.write("PING\r\n"));
    sock.on("data", (d) => {
      data += d.toString();
      if (data.includes("\r\n")) done(data.startsWith("+PONG"));
    });
    sock.on("error", () => done(false));
  });
}

/** A private redis-server (never the shared one on :6379) in `dir`, with no persistence, optionally pinned to a CPU. */
export async function startBenchRedis(dir: string, port: number, cpu?: string): Promise<{ child: ChildProcess; url: string }> {
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
    "--logfile",
    join(dir, "redis.log"),
  ];
  const [cmd, argv] = cpu === undefined ? ["redis-server", args] : ["taskset", ["-c", cpu, "redis-server", ...args]];
  const child = track(spawn(cmd, argv, { stdio: "ignore" }));
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}; see ${join(dir, "redis.log")}`);
    if (await redisPing(port)) return { child, url: `redis://127.0.0.1:${port}` };
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("redis-server did not answer PING within 10 s");
}

/**
 * Seeds every user's feed with the workload's bulk sends (1,000 recipients each, with their
 * deterministic Idempotency-Keys) and returns the ids, which the PATCH operations then use.
 */
export async function seedFeeds(
  base: string,
  apiKey: string,
  cfg: WorkloadConfig,
  concurrency: number,
): Promise<{ ids: SeedIds; sends: number; seconds: number }> {
  const t = performance.now();
  const sends = seedSends(cfg);
  const ids = emptySeedIds(cfg);
  let next = 0;
  const worker = async () => {
    while (next < sends.length) {
      const s = sends[next++];
      if (!s) break;
      const res = await request(`${base}/v1/notifications`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", "idempotency-key": s.idempotencyKey },
        body: s.body,
        headersTimeout: 120_000,
        bodyTimeout: 120_000,
      });
      const text = await res.body.text();
      if (res.statusCode !== 201)
        throw new Error(`seed send (batch ${s.batch}, index ${s.index}) answered ${res.statusCode}: ${text.slice(0, 500)}`);
      const id = (JSON.parse(text) as { id?: unknown }).id;
      if (typeof id !== "string") throw new Error(`seed send answered no id: ${text.slice(0, 200)}`);
      const row = ids[s.batch];
      if (row) row[s.index] = id;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  assertSeeded(cfg, ids);
  return { ids, sends: sends.length, seconds: Math.round(performance.now() - t) / 1000 };
}

/** The commit and whether the tree had changes, or nulls outside a git checkout. */
export function gitInfo(root: string): { commit: string | null; dirty: boolean | null } {
  const git = (args: string[]) => execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  try {
    return { commit: git(["rev-parse", "HEAD"]), dirty: git(["status", "--porcelain"]).length > 0 };
  } catch {
    return { commit: null, dirty: null };
  }
}

/**
 * Runs the load generator (bench/generator.ts) as a child process, optionally pinned to a CPU, and
 * resolves with the result it sends back over IPC.
 */
export function spawnGenerator(root: string, cfg: GeneratorConfig, file: string, cpu?: string): Promise<GeneratorResult> {
  writeFileSync(file, JSON.stringify(cfg));
  const args = [join(root, "bench/generator.ts"), file];
  const [cmd, argv] = cpu === undefined ? [process.execPath, args] : ["taskset", ["-c", cpu, process.execPath, ...args]];
  const gen = track(spawn(cmd, argv, { cwd: root, stdio: ["ignore", "inherit", "inherit", "ipc"] }));
  const result = new Promise<GeneratorResult>((ok, fail) => {
    let got: GeneratorResult | null = null;
    gen.on("message", (m) => {
      got = m as GeneratorResult;
    });
    gen.once("error", fail);
    gen.once("exit", (code) => (got ? ok(got) : fail(new Error(`generator exited with ${code} and no result`))));
  });
  result.catch(() => {});
  return result;
}
