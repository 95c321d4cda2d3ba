/**
 * The load generator process of `npm run bench`. bench/run.ts starts it pinned to its own core
 * (`taskset -c 1 node bench/generator.ts <config.json>`) after seeding; it drives the workload of
 * k6/workload.ts over N keep-alive connections, then reports one JSON result over IPC (or on
 * stdout when started by hand).
 *
 * Modes:
 *  - closed: every connection sends its next operation as soon as the previous one answered
 *    (maximum throughput). Each connection has its own PRNG stream.
 *  - open: operations are scheduled at a fixed rate from one PRNG stream, whatever the server
 *    does; each is sent on the next idle connection, queueing when none is idle, and its latency
 *    counts from its INTENDED send time, so a stalled server cannot hide its stall by slowing
 *    the generator down (no coordinated omission).
 *
 * Only responses completed inside the measured window (after the warm-up) count, for ops/s,
 * latency and errors; errors during the warm-up are reported apart.
 */
import { readFileSync } from "node:fs";
import { createHistogram, performance, type RecordableHistogram } from "node:perf_hooks";
import { newStream, nextOperation, OP_NAMES, type Operation, type SeedIds, type StreamState, type WorkloadConfig } from "../k6/workload.ts";
import { HttpConnection, rawRequest } from "./http-client.ts";
import { busyPercent, type CoreTimes, processCpuSeconds, processRssMb, readCores } from "./procstat.ts";

export interface GeneratorConfig {
  host: string;
  port: number;
  apiKey: string;
  mode: "closed" | "open";
  /** Offered ops/s in open mode. */
  rate: number;
  connections: number;
  warmupS: number;
  durationS: number;
  timeoutMs: number;
  workload: WorkloadConfig;
  ids: SeedIds;
  runId: string;
  /** The server's pid, for its CPU time and RSS over the measured window. */
  serverPid?: number;
  /** The benchmark's own redis-server, if any, for its CPU time. */
  redisPid?: number;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface GeneratorResult {
  mode: "closed" | "open";
  offeredRate: number | null;
  connections: number;
  measuredS: number;
  ops: number;
  opsPerSec: number;
  errors: number;
  errorBreakdown: { non2xx: number; socket: number; timeout: number };
  unexpectedStatus: number;
  warmupErrors: number;
  errorSamples: string[];
  statusCounts: Record<string, Record<string, number>>;
  latencyMs: { overall: LatencySummary } & Record<string, LatencySummary>;
  cores: Array<{ cpu: number; busyPct: number }>;
  /** Open mode: operations still queued (never sent) when the window closed. */
  backlogAtEnd: number;
  /** rssMbSamples: the server's RSS at the start of the measured window, every 10 s, and at its end. */
  server: { cpuSeconds: number | null; cpuUsPerOp: number | null; rssMbAfter: number | null; rssMbSamples: number[] };
  /** The generator's own CPU use over the window, in % of one core. */
  generatorCpuPct: number;
  /** The benchmark's redis-server's CPU use over the window, in % of one core (null without Redis). */
  redisCpuPct: number | null;
  /**
   * Busy time of all cores that neither the server, the generator nor the benchmark's Redis
   * account for, in % of one core: other processes on the machine. Large values mean a noisy run.
   */
  otherLoadPct: number | null;
}

function summarize(h: RecordableHistogram): LatencySummary {
  const ms = (ns: number) => Math.round(ns / 1e3) / 1e3;
  if (h.count === 0) return { count: 0, p50: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  return {
    count: h.count,
    p50: ms(h.percentile(50)),
    p99: ms(h.percentile(99)),
    p999: ms(h.percentile(99.9)),
    max: ms(h.max),
    mean: ms(h.mean),
  };
}

export async function runGenerator(cfg: GeneratorConfig): Promise<GeneratorResult> {
  const hostHeader = `${cfg.host}:${cfg.port}`;
  const nOps = OP_NAMES.length;
  const hists = OP_NAMES.map(() => createHistogram({ lowest: 1, highest: 120e9, figures: 3 }));
  const overall = createHistogram({ lowest: 1, highest: 120e9, figures: 3 });
  const expect = new Array<number>(nOps).fill(200);
  const status: Array<Map<number, number>> = OP_NAMES.map(() => new Map());
  let ops = 0;
  let non2xx = 0;
  let socketErrors = 0;
  let timeouts = 0;
  let unexpected = 0;
  let warmupErrors = 0;
  const samples: string[] = [];

  const t0 = performance.now();
  const measureStart = t0 + cfg.warmupS * 1000;
  const measureEnd = measureStart + cfg.durationS * 1000;
  let stopping = false;

  const opIndex = (op: Operation): number => {
    const i = OP_NAMES.indexOf(op.name);
    expect[i] = op.expectStatus;
    return i;
  };

  const inWindow = (t: number) => t >= measureStart && t < measureEnd;

  function sample(s: string): void {
    if (samples.length < 10) samples.push(s);
  }

  function onResponse(conn: HttpConnection, code: number, body: Buffer): void {
    const now = performance.now();
    if (inWindow(now)) {
      const i = conn.opIndex;
      const ns = Math.max(1, Math.round((now - conn.startedAt) * 1e6));
      hists[i]?.record(ns);
      overall.record(ns);
      ops++;
      const m = status[i] as Map<number, number>;
      m.set(code, (m.get(code) ?? 0) + 1);
      if (code !== expect[i]) unexpected++;
      if (code < 200 || code > 299) {
        non2xx++;
        sample(`${OP_NAMES[i]} ${code}: ${body.toString("utf8", 0, Math.min(body.length, 300))}`);
      }
    } else if (now < measureStart && (code < 200 || code > 299)) {
      warmupErrors++;
      sample(`warm-up ${OP_NAMES[conn.opIndex]} ${code}: ${body.toString("utf8", 0, Math.min(body.length, 300))}`);
    }
    if (cfg.mode === "open" && !stopping) enqueueDue();
    next(conn);
  }

  function onError(conn: HttpConnection, error: string, hadRequest: boolean): void {
    if (hadRequest && !stopping) {
      const now = performance.now();
      if (inWindow(now)) {
        if (error === "timeout") timeouts++;
        else socketErrors++;
      } else if (now < measureStart) warmupErrors++;
      sample(`${OP_NAMES[conn.opIndex]}: ${error}`);
    }
  }

  // --- closed loop: one stream per connection
  const streams: StreamState[] = [];
  // --- open loop: one stream, a queue of intended send times
  const openStream = newStream(cfg.workload, 0, cfg.runId);
  const queue: Array<{ raw: string; op: number; at: number }> = [];
  let qHead = 0;
  const idle: HttpConnection[] = [];
  let enqueueDue = () => {};

  function next(conn: HttpConnection): void {
    if (stopping || !conn.connected) return;
    if (cfg.mode === "closed") {
      const st = streams[conn.index] as StreamState;
      const op = nextOperation(cfg.workload, st, cfg.ids);
      conn.send(rawRequest(hostHeader, cfg.apiKey, op.method, op.path, op.headers, op.body), opIndex(op), performance.now());
    } else if (qHead < queue.length) {
      const item = queue[qHead] as { raw: string; op: number; at: number };
      queue[qHead++] = undefined as never;
      if (qHead > 4096 && qHead * 2 > queue.length) {
        queue.splice(0, qHead);
        qHead = 0;
      }
      conn.send(item.raw, item.op, item.at);
    } else {
      idle.push(conn);
    }
  }

  const conns: HttpConnection[] = [];
  for (let i = 0; i < cfg.connections; i++) {
    streams.push(newStream(cfg.workload, i + 1, cfg.runId));
    conns.push(new HttpConnection(cfg.host, cfg.port, i, { onReady: next, onResponse, onError }));
  }

  let schedule: NodeJS.Timeout | undefined;
  if (cfg.mode === "open") {
    const interval = 1000 / cfg.rate;
    let k = 0;
    // Enqueues every operation whose intended time has come, and hands them to idle connections.
    // Runs on a 1 ms timer and after every response, so under load the schedule is followed
    // more finely than the timer's resolution.
    enqueueDue = () => {
      const now = performance.now();
      const until = Math.min(now, measureEnd);
      for (;;) {
        const at = t0 + k * interval;
        if (at > until) break;
        k++;
        const op = nextOperation(cfg.workload, openStream, cfg.ids);
        queue.push({ raw: rawRequest(hostHeader, cfg.apiKey, op.method, op.path, op.headers, op.body), op: opIndex(op), at });
      }
      while (idle.length > 0 && qHead < queue.length) {
        const conn = idle.pop() as HttpConnection;
        if (conn.connected && !conn.busy) next(conn);
      }
    };
    const tick = () => {
      enqueueDue();
      if (performance.now() < measureEnd) schedule = setTimeout(tick, 1);
    };
    tick();
  }

  const timeoutCheck = setInterval(() => {
    const now = performance.now();
    for (const c of conns) if (c.busy && now - c.sentAt > cfg.timeoutMs) c.abort("timeout");
  }, 250);

  const sleepUntil = (t: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, t - performance.now())));
  await sleepUntil(measureStart);
  const coresBefore: CoreTimes[] = readCores();
  const genCpuBefore = process.cpuUsage();
  const redisBefore = cfg.redisPid ? processCpuSeconds(cfg.redisPid) : null;
  const cpuBefore = cfg.serverPid ? processCpuSeconds(cfg.serverPid) : null;
  // RSS through the window, to tell a leak (a rising series) from a large but flat footprint.
  const rssSamples: number[] = [];
  const sampleRss = () => {
    const mb = cfg.serverPid ? processRssMb(cfg.serverPid) : null;
    if (mb !== null) rssSamples.push(mb);
  };
  sampleRss();
  const rssTimer = setInterval(sampleRss, 10_000);
  await sleepUntil(measureEnd);
  clearInterval(rssTimer);
  const coresAfter: CoreTimes[] = readCores();
  const genCpu = process.cpuUsage(genCpuBefore);
  const redisAfter = cfg.redisPid ? processCpuSeconds(cfg.redisPid) : null;
  const cpuAfter = cfg.serverPid ? processCpuSeconds(cfg.serverPid) : null;
  const rssAfter = cfg.serverPid ? processRssMb(cfg.serverPid) : null;
  if (rssAfter !== null) rssSamples.push(rssAfter);
  const backlog = queue.length - qHead;
  stopping = true;
  if (schedule) clearTimeout(schedule);
  // Let the requests in flight finish (they no longer count), then close.
  const drainUntil = performance.now() + 2000;
  while (conns.some((c) => c.busy) && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 10));
  clearInterval(timeoutCheck);
  for (const c of conns) c.close();

  const latency: Record<string, LatencySummary> = { overall: summarize(overall) };
  OP_NAMES.forEach((name, i) => {
    latency[name] = summarize(hists[i] as RecordableHistogram);
  });
  const statusCounts: Record<string, Record<string, number>> = {};
  OP_NAMES.forEach((name, i) => {
    statusCounts[name] = Object.fromEntries([...(status[i] as Map<number, number>)].map(([k, v]) => [String(k), v]));
  });
  const cores = busyPercent(coresBefore, coresAfter);
  const genPct = Math.round(((genCpu.user + genCpu.system) / (cfg.durationS * 1e4)) * 10) / 10;
  const redisPct =
    redisBefore !== null && redisAfter !== null ? Math.round(((redisAfter - redisBefore) / cfg.durationS) * 1000) / 10 : null;
  const serverCpu = cpuBefore !== null && cpuAfter !== null ? Math.round((cpuAfter - cpuBefore) * 100) / 100 : null;
  return {
    mode: cfg.mode,
    offeredRate: cfg.mode === "open" ? cfg.rate : null,
    connections: cfg.connections,
    measuredS: cfg.durationS,
    ops,
    opsPerSec: Math.round(ops / cfg.durationS),
    errors: non2xx + socketErrors + timeouts,
    errorBreakdown: { non2xx, socket: socketErrors, timeout: timeouts },
    unexpectedStatus: unexpected,
    warmupErrors,
    errorSamples: samples,
    statusCounts,
    latencyMs: latency as GeneratorResult["latencyMs"],
    cores,
    backlogAtEnd: backlog,
    server: {
      cpuSeconds: serverCpu,
      cpuUsPerOp: serverCpu !== null && ops > 0 ? Math.round((serverCpu * 1e6) / ops) : null,
      rssMbAfter: rssAfter,
      rssMbSamples: rssSamples,
    },
    generatorCpuPct: genPct,
    redisCpuPct: redisPct,
    otherLoadPct:
      serverCpu === null || cores.length === 0
        ? null
        : Math.max(
            0,
            Math.round((cores.reduce((a, c) => a + c.busyPct, 0) - (serverCpu / cfg.durationS) * 100 - genPct - (redisPct ?? 0)) * 10) / 10,
          ),
  };
}

// Started as a process: `node bench/generator.ts <config.json>`
if (import.meta.main) {
  const path = process.argv[2];
  if (!path) {
    console.error("usage: node bench/generator.ts <config.json>");
    process.exit(2);
  }
  const cfg = JSON.parse(readFileSync(path, "utf8")) as GeneratorConfig;
  const result = await runGenerator(cfg);
  if (process.send) {
    process.send(result, () => process.exit(0));
  } else {
    console.log(JSON.stringify(result));
    process.exit(0);
  }
}
