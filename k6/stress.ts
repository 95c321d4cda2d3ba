/**
 * Stress: a ramping arrival rate, in steps, until a threshold breaks; reports the knee.
 *
 *   k6 run -e BASE_URL=... -e API_KEY=... [-e START_RPS=1000 -e STEP_RPS=1000 -e STEP_DURATION=30s -e MAX_RPS=60000] k6/stress.ts
 *
 * The rate climbs from START_RPS by STEP_RPS every STEP_DURATION (5 s ramp, then held) up to
 * MAX_RPS. k6 aborts the test (abortOnFail) as soon as the overall p(99) reaches P99_MS (25 ms),
 * more than 1 % of requests fail, or more than 100 iterations could not be offered (VUs
 * exhausted). The knee is the last step that was held in full before the abort: the highest
 * rate this deployment sustains within the latency objective. k6 thresholds are cumulative over
 * the run and evaluated every few seconds, so the abort lags the true breaking point a little;
 * the knee is therefore a slightly optimistic step boundary, and `abortedAtRps` the step in
 * progress. Feed the knee to soak.ts as KNEE_RPS.
 */
import exec from "k6/execution";
import { Gauge } from "k6/metrics";
import {
  CFG,
  envInt,
  mixedIteration,
  P99_MS,
  reportOnlyThresholds,
  type SetupData,
  SUMMARY_TREND_STATS,
  type SummaryData,
  seed,
  summaryOutputs,
} from "./lib.ts";

const START_RPS = envInt("START_RPS", 1000);
const STEP_RPS = envInt("STEP_RPS", 1000);
const MAX_RPS = envInt("MAX_RPS", 60_000);
const STEP_S = parseDuration(__ENV.STEP_DURATION || "30s");
const RAMP_S = 5;
const DELAY_ABORT = __ENV.DELAY_ABORT_EVAL || "10s";

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s);
  if (!m) throw new Error(`bad duration ${s}`);
  const n = Number(m[1]);
  return m[2] === "ms" ? n / 1000 : m[2] === "m" ? n * 60 : n;
}

/** The staircase: hold START_RPS, then ramp RAMP_S and hold STEP_S at each next level. */
const levels: number[] = [];
for (let r = START_RPS; r <= MAX_RPS; r += Math.max(1, STEP_RPS)) levels.push(r);
const stages: Array<{ target: number; duration: string }> = [];
levels.forEach((level, i) => {
  if (i > 0) stages.push({ target: level, duration: `${RAMP_S}s` });
  stages.push({ target: level, duration: `${STEP_S}s` });
});

/** The step held at `t` seconds into the scenario, and whether it was held in full. */
function stepAt(t: number): { index: number } {
  let end = STEP_S;
  for (let i = 0; i < levels.length; i++) {
    if (t < end) return { index: i };
    end += RAMP_S + STEP_S;
  }
  return { index: levels.length };
}

export const options = {
  setupTimeout: __ENV.SETUP_TIMEOUT || "15m",
  summaryTrendStats: SUMMARY_TREND_STATS,
  scenarios: {
    mixed: {
      executor: "ramping-arrival-rate" as const,
      startRate: START_RPS,
      timeUnit: "1s",
      stages,
      preAllocatedVUs: envInt("PRE_VUS", Math.max(100, Math.ceil(MAX_RPS / 100))),
      maxVUs: envInt("MAX_VUS", Math.max(1000, Math.ceil(MAX_RPS / 5))),
    },
  },
  thresholds: {
    ...reportOnlyThresholds(),
    "http_req_duration{scenario:mixed}": [{ threshold: `p(99)<${P99_MS}`, abortOnFail: true, delayAbortEval: DELAY_ABORT }],
    http_req_failed: [{ threshold: "rate<0.01", abortOnFail: true, delayAbortEval: DELAY_ABORT }],
    dropped_iterations: [{ threshold: "count<100", abortOnFail: true, delayAbortEval: DELAY_ABORT }],
  },
};

export function setup(): SetupData {
  return seed();
}

/** The staircase level in progress (a ramp counts as the level it ramps to); its last value is the level at the abort. */
const stepLevel = new Gauge("stress_step_rps");

export default function (data: SetupData): void {
  const t = (Date.now() - exec.scenario.startTime) / 1000;
  stepLevel.add(levels[Math.min(stepAt(t).index, levels.length - 1)] ?? 0);
  mixedIteration(data);
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const crossed = Object.values(data.metrics).some((m) => Object.values(m.thresholds ?? {}).some((r) => !r.ok));
  const last = data.metrics.stress_step_rps?.values.value ?? 0;
  const index = levels.indexOf(last);
  let knee: number | string;
  let abortedAt: number | null = null;
  if (!crossed) {
    knee = `>= ${last} (no threshold broke; raise MAX_RPS)`;
  } else {
    abortedAt = last;
    knee = index > 0 ? (levels[index - 1] ?? 0) : 0;
  }
  return summaryOutputs("stress", data, {
    kneeRps: knee,
    abortedAtRps: abortedAt,
    achievedRps: Math.round(data.metrics.http_reqs?.values.rate ?? 0),
    users: CFG.users,
    steps: `${START_RPS}..${MAX_RPS} by ${STEP_RPS} every ${STEP_S}s (+${RAMP_S}s ramp)`,
  });
}
