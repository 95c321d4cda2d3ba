/**
 * Soak: the mixed workload at 70 % of the knee found by stress.ts, for SOAK_DURATION (default
 * 30m), with the load test's thresholds. Watch the deployment's memory (RSS) and latency for an
 * upward trend while it runs; a pass means no threshold broke over the whole half hour.
 *
 *   k6 run -e BASE_URL=... -e API_KEY=... -e KNEE_RPS=<from stress> k6/soak.ts
 */
import { fail } from "k6";
import { CFG, constantRateOptions, envInt, mixedIteration, type SetupData, type SummaryData, seed, summaryOutputs } from "./lib.ts";

const KNEE_RPS = envInt("KNEE_RPS", 0);
const FRACTION = Number(__ENV.SOAK_FRACTION || 0.7);
const RATE = Math.max(1, Math.round(KNEE_RPS * FRACTION));

export const options = constantRateOptions(RATE, __ENV.SOAK_DURATION || "30m");

export function setup(): SetupData {
  if (KNEE_RPS <= 0) fail("KNEE_RPS is required: run k6/stress.ts first and pass the knee it reports");
  return seed();
}

export default function (data: SetupData): void {
  mixedIteration(data);
}

export function handleSummary(data: SummaryData): Record<string, string> {
  return summaryOutputs("soak", data, { kneeRps: KNEE_RPS, rate: RATE, users: CFG.users, seedPerUser: CFG.seedPerUser });
}
