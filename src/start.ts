import cluster from "node:cluster";
import pino from "pino";
import { type Config, ConfigError, loadConfig } from "./config.ts";
import { exitOnSignals, startServer } from "./server.ts";

/** Started by main.js: parse config, then serve (one process) or supervise workers (HERALD_WORKERS > 1). */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`herald: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const logger = pino({ level: config.logLevel, base: { pid: process.pid } });

  if (config.workers > 1 && cluster.isPrimary) {
    const { runPrimary } = await import("./workers.ts");
    return runPrimary(config, logger);
  }
  if (cluster.isWorker) {
    const { runWorker } = await import("./workers.ts");
    return runWorker(config, logger);
  }

  const server = await startServer(config, logger);
  if (config.storeUrl.startsWith("sqlite:")) {
    logger.info("the SQLite store serves exactly one process; use a Redis HERALD_STORE_URL to run more instances");
  }
  if (config.devCredentials) printDevelopmentBanner(config, server.port);
  exitOnSignals(server, logger);
}

/** Outside production with no configured keys: show a new user how to call the API right away. */
function printDevelopmentBanner(config: Config, port: number): void {
  const dev = config.devCredentials;
  if (!dev) return;
  const base = `http://localhost:${port}`;
  console.log(`
  Herald is running on ${base} (development mode: generated credentials, kept in ${dev.file})
  API key (tenant "${dev.tenant}"): ${dev.apiKey}

    curl -s -X POST ${base}/v1/notifications -H 'Authorization: Bearer ${dev.apiKey}' \\
      -H 'Content-Type: application/json' -d '{"recipients":["alice"],"title":"Hello from Herald"}'
    curl -s ${base}/v1/users/alice/notifications -H 'Authorization: Bearer ${dev.apiKey}'

  API reference: ${base}/docs
`);
}

main().catch((error) => {
  console.error("herald: failed to start:", error);
  process.exit(1);
});
