/**
 * Load: the mixed workload at a constant arrival rate of TARGET_RPS business operations a second
 * (default 10,000, the per-node target) for DURATION (default 5m).
 *
 *   k6 run -e BASE_URL=... -e API_KEY=... [-e TARGET_RPS=10000 -e DURATION=5m] k6/load.ts
 *
 * A pass means the deployment took the whole offered rate (dropped_iterations == 0) with
 * < 0.1 % failed requests, > 99.9 % passed checks, and p(99) < P99_MS (25 ms) overall and for
 * each operation (list, counts, mark_read, send).
 */
import { CFG, constantRateOptions, envInt, mixedIteration, type SetupData, type SummaryData, seed, summaryOutputs } from "./lib.ts";

const TARGET_RPS = envInt("TARGET_RPS", 10_000);

export const options = constantRateOptions(TARGET_RPS, __ENV.DURATION || "5m");

export function setup(): SetupData {
  return seed();
}

export default function (data: SetupData): void {
  mixedIteration(data);
}

export function handleSummary(data: SummaryData): Record<string, string> {
  return summaryOutputs("load", data, { targetRps: TARGET_RPS, users: CFG.users, seedPerUser: CFG.seedPerUser });
}
