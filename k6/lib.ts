/**
 * Shared pieces of the k6 scripts: env configuration, seeding in setup(), running one operation of
 * the workload with tags and checks, thresholds, and handleSummary().
 *
 * Env: BASE_URL (default http://127.0.0.1:3000), API_KEY (required), USERS (10000),
 * SEED_PER_USER (50), SEED (1), SEED_CONCURRENCY (8), SUMMARY_PATH (summary.json),
 * P99_MS (25), PRE_VUS / MAX_VUS (VU pool of the arrival-rate executors).
 */
import { check, fail } from "k6";
import exec from "k6/execution";
import http from "k6/http";
import {
  assertSeeded,
  checkResponse,
  configFromEnv,
  emptySeedIds,
  newStream,
  nextOperation,
  OP_NAMES,
  type Operation,
  type SeedIds,
  type StreamState,
  seedSends,
  type WorkloadConfig,
} from "./workload.ts";

export const BASE_URL = (__ENV.BASE_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
export const API_KEY = __ENV.API_KEY || "";
export const CFG: WorkloadConfig = configFromEnv(__ENV);
export const P99_MS = Number(__ENV.P99_MS || 25);

export function envInt(name: string, dflt: number): number {
  const v = __ENV[name];
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${v}`);
  return Math.round(n);
}

export function authHeaders(extra?: Record<string, string>): Record<string, string> {
  return { Authorization: `Bearer ${API_KEY}`, ...extra };
}

/** What setup() hands to every VU. */
export interface SetupData {
  ids: SeedIds;
  runId: string;
  seededAt: string;
}

/**
 * Seeds the feeds with bulk sends of up to 1,000 recipients (USERS/1000 × SEED_PER_USER calls,
 * SEED_CONCURRENCY at a time) and returns the ids the PATCH operation needs.
 */
export function seed(): SetupData {
  if (!API_KEY) fail("API_KEY is required (a Herald API key for the tenant under test)");
  const ready = http.get(`${BASE_URL}/readyz`, { tags: { op: "setup" } });
  if (ready.status !== 200) fail(`${BASE_URL}/readyz answered ${ready.status}; is Herald up?`);

  const sends = seedSends(CFG);
  const ids = emptySeedIds(CFG);
  const concurrency = Math.max(1, envInt("SEED_CONCURRENCY", 8));
  for (let i = 0; i < sends.length; i += concurrency) {
    const chunk = sends.slice(i, i + concurrency);
    const responses = http.batch(
      chunk.map((s) => ({
        method: "POST",
        url: `${BASE_URL}/v1/notifications`,
        body: s.body,
        params: {
          headers: authHeaders({ "Content-Type": "application/json", "Idempotency-Key": s.idempotencyKey }),
          tags: { op: "setup" },
          timeout: "60s",
        },
      })),
    );
    responses.forEach((res, k) => {
      const s = chunk[k];
      if (!s) return;
      if (res.status !== 201) fail(`seed send ${s.batch}/${s.index} answered ${res.status}: ${String(res.body).slice(0, 300)}`);
      const id = (res.json() as { id?: unknown }).id;
      if (typeof id !== "string") fail(`seed send ${s.batch}/${s.index} answered no id`);
      const row = ids[s.batch];
      if (row) row[s.index] = id;
    });
  }
  assertSeeded(CFG, ids);
  console.log(`seeded ${CFG.users} users × ${CFG.seedPerUser} notifications with ${sends.length} bulk sends`);
  return {
    ids,
    runId: `k6-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`,
    seededAt: new Date().toISOString(),
  };
}

let stream: StreamState | undefined;

/** The calling VU's stream of the workload (one PRNG stream per VU, so runs are reproducible). */
export function vuStream(data: SetupData): StreamState {
  if (!stream) stream = newStream(CFG, exec.vu.idInTest, data.runId);
  return stream;
}

/** Sends one operation, tagged `op:<name>`, and checks status and body. */
export function run(op: Operation, tags: Record<string, string> = {}): boolean {
  const res = http.request(op.method, `${BASE_URL}${op.path}`, op.body ?? null, {
    headers: authHeaders(op.headers),
    tags: { ...tags, op: op.name, name: op.name },
  });
  return check(
    res,
    {
      [`${op.name} ok`]: (r) => {
        const why = checkResponse(op, r.status, typeof r.body === "string" ? r.body : null);
        if (why && exec.vu.iterationInScenario < 3) console.warn(`${op.name} ${op.path}: ${why}`);
        return why === null;
      },
    },
    { ...tags, op: op.name },
  );
}

/** One iteration of the mixed workload. */
export function mixedIteration(data: SetupData, tags?: Record<string, string>): void {
  const s = vuStream(data);
  run(nextOperation(CFG, s, data.ids), tags);
}

/** Thresholds that always pass: they only make k6 report these sub-metrics in the summary. */
export function reportOnlyThresholds(): Record<string, ThresholdSpec[]> {
  const out: Record<string, ThresholdSpec[]> = { "http_req_duration{scenario:mixed}": ["max>=0"] };
  for (const name of OP_NAMES) out[`http_req_duration{op:${name}}`] = ["max>=0"];
  return out;
}

type ThresholdSpec = string | { threshold: string; abortOnFail?: boolean; delayAbortEval?: string };

/**
 * The pass criteria of the load and soak tests: < 0.1 % failed requests, every iteration offered,
 * p(99) < P99_MS overall and per operation, > 99.9 % checks.
 */
export function mixThresholds(
  opts: { abortOnFail?: boolean; delayAbortEval?: string; p99Ms?: number } = {},
): Record<string, ThresholdSpec[]> {
  const p99 = opts.p99Ms ?? P99_MS;
  const t = (threshold: string): ThresholdSpec =>
    opts.abortOnFail ? { threshold, abortOnFail: true, delayAbortEval: opts.delayAbortEval ?? "10s" } : threshold;
  const out: Record<string, ThresholdSpec[]> = {
    http_req_failed: [t("rate<0.001")],
    dropped_iterations: [t("count==0")],
    "http_req_duration{scenario:mixed}": [t(`p(99)<${p99}`)],
    checks: [t("rate>0.999")],
  };
  for (const name of OP_NAMES) out[`http_req_duration{op:${name}}`] = [t(`p(99)<${p99}`)];
  return out;
}

export const SUMMARY_TREND_STATS = ["avg", "min", "med", "p(90)", "p(99)", "p(99.9)", "max"];

// ---------------------------------------------------------------------------------------------
// Summary

interface MetricSummary {
  type: string;
  values: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

export interface SummaryData {
  metrics: Record<string, MetricSummary>;
  state?: { testRunDurationMs?: number };
  options?: unknown;
  root_group?: unknown;
}

function fmt(n: number | undefined, digits = 2): string {
  return n === undefined || !Number.isFinite(n) ? "-" : n.toFixed(digits);
}

/** Compact text report: throughput, latency per operation, and every threshold with pass/fail. */
export function textReport(title: string, data: SummaryData, extra: Record<string, unknown> = {}): string {
  const m = data.metrics;
  const lines: string[] = [`\n=== ${title} ===`];
  const reqs = m.http_reqs?.values;
  lines.push(
    `requests: ${reqs?.count ?? 0} (${fmt(reqs?.rate, 0)}/s), failed: ${fmt((m.http_req_failed?.values.rate ?? 0) * 100, 3)} %, checks: ${fmt((m.checks?.values.rate ?? 0) * 100, 3)} %, dropped iterations: ${m.dropped_iterations?.values.count ?? 0}`,
  );
  lines.push("latency ms        p50      p99    p99.9      max");
  const row = (label: string, key: string) => {
    const v = m[key]?.values;
    if (v)
      lines.push(
        `${label.padEnd(14)} ${fmt(v.med).padStart(7)} ${fmt(v["p(99)"]).padStart(8)} ${fmt(v["p(99.9)"]).padStart(8)} ${fmt(v.max).padStart(8)}`,
      );
  };
  row("overall", "http_req_duration{scenario:mixed}");
  for (const name of OP_NAMES) row(name, `http_req_duration{op:${name}}`);
  for (const [k, v] of Object.entries(extra)) lines.push(`${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
  let failed = 0;
  for (const [metric, s] of Object.entries(m)) {
    for (const [expr, r] of Object.entries(s.thresholds ?? {})) {
      if (!r.ok) failed++;
      lines.push(`  ${r.ok ? "PASS" : "FAIL"} ${metric}: ${expr}`);
    }
  }
  lines.push(failed === 0 ? "RESULT: PASS" : `RESULT: FAIL (${failed} threshold(s) crossed)`);
  return `${lines.join("\n")}\n`;
}

/** handleSummary(): JSON to SUMMARY_PATH (default summary.json) plus the text report on stdout. */
export function summaryOutputs(title: string, data: SummaryData, extra: Record<string, unknown> = {}): Record<string, string> {
  const path = __ENV.SUMMARY_PATH || "summary.json";
  const json = { test: title, baseUrl: BASE_URL, workload: CFG, ...extra, k6: data };
  return { stdout: textReport(title, data, extra), [path]: JSON.stringify(json, null, 2) };
}

/** Options of a constant-arrival-rate run of the mix (load.ts, soak.ts), with the mix's thresholds. */
export function constantRateOptions(rate: number, duration: string) {
  return {
    setupTimeout: __ENV.SETUP_TIMEOUT || "15m",
    summaryTrendStats: SUMMARY_TREND_STATS,
    scenarios: {
      mixed: {
        executor: "constant-arrival-rate" as const,
        rate,
        timeUnit: "1s",
        duration,
        preAllocatedVUs: envInt("PRE_VUS", Math.max(50, Math.ceil(rate / 50))),
        maxVUs: envInt("MAX_VUS", Math.max(500, Math.ceil(rate / 5))),
      },
    },
    thresholds: mixThresholds(),
  };
}
