/**
 * Spike: a steady baseline, a sudden surge far above it, then back to the baseline.
 *
 *   k6 run -e BASE_URL=... -e API_KEY=... [-e BASE_RPS=2000 -e SPIKE_RPS=20000] k6/spike.ts
 *
 * Phases (tag `phase`): `before` (BASE_RPS for 1 min), `spike` (10 s ramp up to SPIKE_RPS, held
 * SPIKE_HOLD, default 1 min, 10 s ramp down), `settle` (the first 30 s back at BASE_RPS) and
 * `after` (the following 2 min at BASE_RPS). During the spike, latency may exceed the objective
 * and k6 may drop iterations; that is what the test provokes. A pass means Herald degraded
 * without failing (< 1 % failed requests over the whole run, no 5xx storm) and recovered by
 * itself: in `after`, p(99) is back under P99_MS (25 ms) and < 0.1 % of requests fail.
 */
import exec from "k6/execution";
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

const TARGET_RPS = envInt("TARGET_RPS", 10_000);
const BASE_RPS = envInt("BASE_RPS", Math.round(TARGET_RPS * 0.2));
const SPIKE_RPS = envInt("SPIKE_RPS", TARGET_RPS * 2);
const SPIKE_HOLD_S = envInt("SPIKE_HOLD_S", 60);

// [phase, until second] of the scenario's timeline
const timeline: Array<[string, number]> = [
  ["before", 60],
  ["spike", 60 + 10 + SPIKE_HOLD_S + 10],
  ["settle", 60 + 10 + SPIKE_HOLD_S + 10 + 30],
  ["after", Number.POSITIVE_INFINITY],
];

function phaseAt(t: number): string {
  for (const [name, until] of timeline) if (t < until) return name;
  return "after";
}

export const options = {
  setupTimeout: __ENV.SETUP_TIMEOUT || "15m",
  summaryTrendStats: SUMMARY_TREND_STATS,
  scenarios: {
    mixed: {
      executor: "ramping-arrival-rate" as const,
      startRate: BASE_RPS,
      timeUnit: "1s",
      stages: [
        { target: BASE_RPS, duration: "60s" },
        { target: SPIKE_RPS, duration: "10s" },
        { target: SPIKE_RPS, duration: `${SPIKE_HOLD_S}s` },
        { target: BASE_RPS, duration: "10s" },
        { target: BASE_RPS, duration: "150s" },
      ],
      preAllocatedVUs: envInt("PRE_VUS", Math.max(100, Math.ceil(SPIKE_RPS / 50))),
      maxVUs: envInt("MAX_VUS", Math.max(1000, Math.ceil(SPIKE_RPS / 5))),
    },
  },
  thresholds: {
    ...reportOnlyThresholds(),
    "http_req_duration{phase:before}": [`p(99)<${P99_MS}`],
    "http_req_duration{phase:spike}": ["max>=0"],
    "http_req_duration{phase:after}": [`p(99)<${P99_MS}`],
    "http_req_failed{phase:after}": ["rate<0.001"],
    http_req_failed: ["rate<0.01"],
    checks: ["rate>0.99"],
  },
};

export function setup(): SetupData {
  return seed();
}

export default function (data: SetupData): void {
  mixedIteration(data, { phase: phaseAt((Date.now() - exec.scenario.startTime) / 1000) });
}

export function handleSummary(data: SummaryData): Record<string, string> {
  const m = data.metrics;
  return summaryOutputs("spike", data, {
    baseRps: BASE_RPS,
    spikeRps: SPIKE_RPS,
    users: CFG.users,
    p99ByPhaseMs: {
      before: m["http_req_duration{phase:before}"]?.values["p(99)"],
      spike: m["http_req_duration{phase:spike}"]?.values["p(99)"],
      after: m["http_req_duration{phase:after}"]?.values["p(99)"],
    },
    droppedIterations: m.dropped_iterations?.values.count ?? 0,
  });
}
