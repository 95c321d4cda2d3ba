import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { Server as NetServer, type Socket } from "node:net";
import { hostname } from "node:os";
import { createAdaptorServer } from "@hono/node-server";
import type { Logger } from "pino";
import { createApp } from "./app.ts";
import type { Config } from "./config.ts";
import type { AppDeps } from "./http/env.ts";
import { createMetrics, type Metrics } from "./http/metrics.ts";
import { openStore } from "./store/index.ts";
import { instrumentStore } from "./store/instrumented.ts";

export type RunningServer = {
  port: number;
  instanceId: string;
  metrics: Metrics;
  /** Drains and stops; resolves when every connection is closed and the store is closed. */
  shutdown(reason: string): Promise<void>;
};

/** How long the drain waits with no new request before it closes idle keep-alive connections. */
const DRAIN_QUIET_MS = 500;

/**
 * Opens the store, builds the app and listens. Used by main.js (and by each cluster worker).
 *
 * Shutdown, in order (for load balancers and Kubernetes):
 * 1. /readyz turns 503, and every response carries `Connection: close`;
 * 2. the listening socket closes, so new connections are refused;
 * 3. requests on connections that are already open are still answered, until none has arrived for
 *    DRAIN_QUIET_MS and none is in flight; then idle connections close;
 * 4. at HERALD_SHUTDOWN_TIMEOUT_MS whatever is left is cut;
 * 5. the store closes.
 */
export async function startServer(
  config: Config,
  logger: Logger,
  extra: Pick<AppDeps, "renderMetrics"> & { instanceId?: string } = {},
): Promise<RunningServer> {
  const instanceId = extra.instanceId ?? `${hostname()}-${process.pid}`;
  const metrics = createMetrics({ defaults: true });
  const store = instrumentStore(await openStore(config), metrics);
  let accepting = true;
  const app = createApp({
    store,
    config,
    logger,
    metrics,
    instanceId,
    accepting: () => accepting,
    renderMetrics: extra.renderMetrics,
  });

  const server = createAdaptorServer({
    fetch: app.fetch,
    serverOptions: {
      // Above the load balancer's idle timeout, so the balancer, not Node, closes idle connections
      // (otherwise it may reuse a socket Node just closed: intermittent 502s).
      keepAliveTimeout: config.keepAliveTimeoutMs,
      headersTimeout: config.keepAliveTimeoutMs + 1000,
    },
  }) as Server;

  const sockets = new Set<Socket>();
  let inFlight = 0;
  let lastRequestAt = 0;
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("request", (_req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    lastRequestAt = performance.now();
    res.once("close", () => inFlight--);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  logger.info({ port, host: config.host, store: store.kind, instanceId }, "herald listening");

  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string) => {
    stopping ??= (async () => {
      logger.info({ reason, inFlight, connections: sockets.size }, "draining");
      accepting = false;
      // net.Server#close stops listening but, unlike http.Server#close, leaves open keep-alive
      // connections alone, so requests already on their way over them are still answered.
      NetServer.prototype.close.call(server);
      const deadline = performance.now() + config.shutdownTimeoutMs;
      while (performance.now() < deadline) {
        const quiet = inFlight === 0 && performance.now() - lastRequestAt >= DRAIN_QUIET_MS;
        if (quiet) server.closeIdleConnections();
        if (sockets.size === 0) break;
        await sleep(25);
      }
      if (sockets.size > 0) {
        logger.warn({ connections: sockets.size, inFlight }, "shutdown timeout: closing remaining connections");
        server.closeAllConnections();
      }
      await store.close();
      logger.info("stopped");
    })();
    return stopping;
  };

  return { port, instanceId, metrics, shutdown };
}

/** SIGTERM (Kubernetes, docker stop) and SIGINT (Ctrl-C) both drain, then exit 0. */
export function exitOnSignals(server: RunningServer, logger: Logger): void {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      server.shutdown(signal).then(
        () => process.exit(0),
        (error) => {
          logger.error({ err: error }, "shutdown failed");
          process.exit(1);
        },
      );
    });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
