import type { Logger } from "pino";
import type { Config } from "./config.ts";

export async function runPrimary(_config: Config, _logger: Logger): Promise<void> {
  throw new Error("HERALD_WORKERS > 1 is not implemented yet");
}
export async function runWorker(_config: Config, _logger: Logger): Promise<void> {
  throw new Error("HERALD_WORKERS > 1 is not implemented yet");
}
