import cluster, { type Worker } from "node:cluster";
import type { Logger } from "pino";
import { AggregatorRegistry } from "prom-client";
import type { Config } from "./config.ts";
import { exitOnSignals, startServer } from "./server.ts";

/*
 * HERALD_WORKERS > 1: one primary process supervises N workers that share one port through
 * node:cluster (the primary accepts and hands connections out round-robin). Workers are identical
 * and stateless, exactly like separate instances; the primary serves no HTTP itself.
 *
 * /metrics on any worker reports the whole instance: the worker asks the primary, which gathers
 * every worker's registry over IPC (prom-client's AggregatorRegistry) and sums them.
 */

const METRICS_REQUEST = "herald:metrics";
const METRICS_RESPONSE = "herald:metrics:response";
/** A worker that dies sooner than this after starting is restarted with a delay, not in a tight loop. */
const CRASH_LOOP_MS = 5000;

type MetricsRequest = { type: typeof METRICS_REQUEST; id: number };
type MetricsResponse = { type: typeof METRICS_RESPONSE; id: number; body?: string; error?: string };

export async function runPrimary(config: Config, logger: Logger): Promise<void> {
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  const startedAt = new Map<Worker, number>();

  const fork = () => {
    if (!stopping) startedAt.set(cluster.fork(), Date.now());
  };
  cluster.on("message", (worker, message: MetricsRequest) => {
    if (message?.type !== METRICS_REQUEST) return;
    aggregator.clusterMetrics().then(
      (body) => worker.send({ type: METRICS_RESPONSE, id: message.id, body } satisfies MetricsResponse),
      (error: Error) => worker.send({ type: METRICS_RESPONSE, id: message.id, error: error.message } satisfies MetricsResponse),
    );
  });
  cluster.on("exit", (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker) ?? 0);
    startedAt.delete(worker);
    if (stopping) return;
    logger.error({ pid: worker.process.pid, code, signal }, "worker died; starting another");
    setTimeout(fork, lived < CRASH_LOOP_MS ? 1000 : 0);
  });

  for (let i = 0; i < config.workers; i++) fork();
  logger.info({ workers: config.workers, port: config.port }, "herald primary started");

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      stopping = true;
      logger.info({ signal }, "draining every worker");
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
      const deadline = setTimeout(() => {
        logger.warn("workers did not stop in time");
        process.exit(1);
      }, config.shutdownTimeoutMs + 2000);
      const done = () => {
        if (Object.keys(cluster.workers ?? {}).length === 0) {
          clearTimeout(deadline);
          process.exit(0);
        }
      };
      cluster.on("exit", done);
      done();
    });
  }
}

export async function runWorker(config: Config, logger: Logger): Promise<void> {
  let nextId = 0;
  const pending = new Map<number, { resolve: (body: string) => void; reject: (error: Error) => void }>();
  process.on("message", (message: MetricsResponse) => {
    if (message?.type !== METRICS_RESPONSE) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.body !== undefined) waiter?.resolve(message.body);
    else waiter?.reject(new Error(message.error ?? "metrics unavailable"));
  });
  const server = await startServer(config, logger, {
    renderMetrics: () =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: (body) => resolve({ contentType: AggregatorRegistry.PROMETHEUS_CONTENT_TYPE, body }), reject });
        process.send?.({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
      }),
  });
  // Answer the primary's aggregation requests from this worker's own registry.
  AggregatorRegistry.setRegistries([server.metrics.registry]);
  new AggregatorRegistry();
  exitOnSignals(server, logger);
}
