import { Cluster, Redis, type RedisOptions } from "ioredis";
import type {
  Counts,
  DeliverOptions,
  FeedItem,
  FeedRef,
  ItemPatch,
  ListPage,
  ListQuery,
  MarkAction,
  NewNotification,
  Reservation,
  Store,
} from "../types.ts";
import { StoreUnavailableError } from "../types.ts";
import { SCRIPTS, type ScriptName } from "./scripts.ts";

/*
 * The production store: Redis or Redis Cluster through ioredis (chosen by measurement, see
 * BENCHMARKS.md: equal throughput, and only ioredis bounds each command without dropping the
 * connection). Every feed operation is one script call on one slot; a send to many recipients
 * issues one call per recipient, in pipelines of 100 (one Redis) or in the same tick for auto-pipelining
 * to batch per node (Redis Cluster).
 */

/** Recipients per pipeline in a bulk send (see deliver). */
const DELIVER_BATCH = 100;

/** The suffixes of one feed's keys, in the KEYS order the scripts expect (see scripts.ts). */
const FEED_KEYS = ["f", "a", "u", "n", "x", "e", "d", "i", "s", "q"] as const;

/** All keys of one (tenant, user) share the hash tag `{tenant:user}`: one Redis Cluster slot. */
export function feedKeys(tenant: string, user: string): string[] {
  const prefix = `h:{${tenant}:${user}}:`;
  return FEED_KEYS.map((k) => prefix + k);
}

/** An Idempotency-Key record is one key, tagged by tenant and key so records spread over slots. */
export function idempotencyKey(tenant: string, key: string): string {
  return `hi:{${tenant}:${key}}`;
}

type Client = Redis | Cluster;
type ScriptCall = (...keysAndArgs: Array<string | number>) => Promise<unknown>;

export type RedisStoreOptions = { url: string; feedMax: number; timeoutMs: number };

/**
 * Connects to `redis://`, `rediss://` or `redis+cluster://host:port,host:port` and waits briefly
 * for the connection; if Redis is down, it starts anyway (readiness fails) and keeps reconnecting.
 *
 * @example
 * const store = await openRedisStore({ url: "redis://127.0.0.1:6379", feedMax: 1000, timeoutMs: 1000 });
 */
export async function openRedisStore(options: RedisStoreOptions): Promise<Store> {
  // Bounded everywhere: no offline queue, no per-request retries, a deadline on every command,
  // and a capped reconnect backoff, so a dead Redis costs a caller at most timeoutMs (503) and
  // the instance recovers by itself when Redis returns.
  const base: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.timeoutMs,
    connectTimeout: options.timeoutMs,
    retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 500),
    // Off for a single Redis: measured (BENCHMARKS.md), auto-pipelining cost ~30 % more client CPU
    // per operation and, by holding each tick's commands until setImmediate, made Node and Redis
    // take turns instead of working in parallel (-33 % ops/s). One request is one command anyway;
    // a send to many recipients pipelines explicitly (deliver). Redis Cluster keeps it (below),
    // where it groups a bulk send's commands per node.
    enableAutoPipelining: false,
  };
  let client: Client;
  let kind: Store["kind"];
  if (options.url.startsWith("redis+cluster://")) {
    const { nodes, password, username } = parseClusterUrl(options.url);
    client = new Cluster(nodes, {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      clusterRetryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 500),
      slotsRefreshTimeout: options.timeoutMs,
      redisOptions: { ...base, password, username },
    });
    kind = "redis-cluster";
  } else {
    client = new Redis(options.url, base);
    kind = "redis";
  }
  client.on("error", () => {
    // Connection errors surface per command as StoreUnavailableError; the client reconnects itself.
  });
  for (const [name, script] of Object.entries(SCRIPTS)) {
    client.defineCommand(`herald_${name}`, { numberOfKeys: script.keys === "feed" ? FEED_KEYS.length : 1, lua: script.source });
  }
  await Promise.race([
    new Promise((resolve) => client.once("ready", resolve)),
    new Promise((resolve) => setTimeout(resolve, Math.max(2000, options.timeoutMs * 2)).unref()),
  ]);
  // Cluster clients retry internally (slot refreshes, redirections) past commandTimeout, so a dead
  // master's slots would cost callers well over a second; an overall deadline keeps the bound.
  return new RedisStore(client, kind, options.feedMax, kind === "redis-cluster" ? options.timeoutMs : null);
}

function parseClusterUrl(url: string): { nodes: Array<{ host: string; port: number }>; password?: string; username?: string } {
  const rest = url.slice("redis+cluster://".length);
  const at = rest.lastIndexOf("@");
  const auth = at >= 0 ? rest.slice(0, at) : "";
  const [username, password] = auth.includes(":") ? auth.split(":", 2) : [undefined, auth || undefined];
  const nodes = rest
    .slice(at + 1)
    .replace(/\/.*$/, "")
    .split(",")
    .map((hostPort) => {
      const i = hostPort.lastIndexOf(":");
      const port = Number(hostPort.slice(i + 1));
      if (i < 1 || !Number.isInteger(port)) throw new Error(`redis+cluster URL: expected host:port, got "${hostPort}"`);
      return { host: hostPort.slice(0, i), port };
    });
  return { nodes, password: password ? decodeURIComponent(password) : undefined, username: username || undefined };
}

/** Replies that mean "not now" (failover, loading, cluster down) rather than a bug in a script. */
const TRANSIENT_REPLY = /^(CLUSTERDOWN|TRYAGAIN|MASTERDOWN|LOADING|BUSY|READONLY|NOREPLICAS)/;

function toStoreError(error: unknown): Error {
  if (error instanceof StoreUnavailableError) return error;
  const err = error as Error & { name?: string };
  if (err?.name === "ReplyError" && !TRANSIENT_REPLY.test(err.message)) return err;
  return new StoreUnavailableError(`redis: ${err?.message ?? String(error)}`, { cause: error });
}

class RedisStore implements Store {
  readonly kind: Store["kind"];
  readonly #client: Client;
  readonly #feedMax: number;

  readonly #deadlineMs: number | null;

  constructor(client: Client, kind: Store["kind"], feedMax: number, deadlineMs: number | null) {
    this.#client = client;
    this.kind = kind;
    this.#feedMax = feedMax;
    this.#deadlineMs = deadlineMs;
  }

  #run<T>(name: ScriptName, keysAndArgs: Array<string | number>): Promise<T> {
    const call = (this.#client as unknown as Record<string, ScriptCall>)[`herald_${name}`] as ScriptCall;
    return this.#command(() => call.apply(this.#client, keysAndArgs) as Promise<T>);
  }

  async deliver(tenant: string, recipients: readonly string[], n: NewNotification, options: DeliverOptions): Promise<void> {
    const args = [n.id, n.content, n.expiresAt ?? "", n.category ?? "", options.dedupeMs ?? "", this.#feedMax];
    if (recipients.length === 1) {
      await this.#run("deliver", [...feedKeys(tenant, recipients[0] as string), options.now, ...args]);
      return;
    }
    if (this.#client instanceof Redis) {
      // One Redis: explicit pipelines of DELIVER_BATCH calls, one batch after another. Each batch is
      // one write; bounding the batch bounds the memory a bulk send holds while it is in flight.
      for (let i = 0; i < recipients.length; i += DELIVER_BATCH) {
        const pipeline = this.#client.pipeline() as unknown as Record<string, (...a: Array<string | number>) => unknown> & {
          exec(): Promise<Array<[Error | null, unknown]> | null>;
        };
        const call = pipeline.herald_deliver as (...a: Array<string | number>) => unknown;
        for (const user of recipients.slice(i, i + DELIVER_BATCH)) call.apply(pipeline, [...feedKeys(tenant, user), options.now, ...args]);
        let results: Array<[Error | null, unknown]> | null;
        try {
          results = await pipeline.exec();
        } catch (error) {
          throw toStoreError(error);
        }
        const failed = results?.find(([err]) => err);
        if (failed) throw toStoreError(failed[0]);
      }
      return;
    }
    // Redis Cluster: all calls are issued in one tick; auto-pipelining writes them as one batch per node.
    const results = await Promise.allSettled(
      recipients.map((user) => this.#run("deliver", [...feedKeys(tenant, user), options.now, ...args])),
    );
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  async reserveIdempotency(
    tenant: string,
    key: string,
    claim: { fingerprint: string; id: string; createdAt: number; now: number; leaseMs: number; ttlMs: number },
  ): Promise<Reservation> {
    const [state, id, at] = await this.#run<[string, string?, string?]>("reserve", [
      idempotencyKey(tenant, key),
      claim.now,
      claim.fingerprint,
      claim.id,
      claim.createdAt,
      claim.leaseMs,
      claim.ttlMs,
    ]);
    if (state === "done" || state === "resume") return { state, id: id as string, createdAt: Number(at) };
    return { state: state as "new" | "in-flight" | "mismatch" };
  }

  async completeIdempotency(tenant: string, key: string): Promise<void> {
    await this.#command(() => this.#client.hset(idempotencyKey(tenant, key), "done", "1"));
  }

  async releaseIdempotency(tenant: string, key: string): Promise<void> {
    await this.#command(() => this.#client.hset(idempotencyKey(tenant, key), "lease", "0"));
  }

  async list(feed: FeedRef, query: ListQuery, now: number): Promise<ListPage> {
    const reply = await this.#run<Array<string | number>>("list", [
      ...feedKeys(feed.tenant, feed.user),
      now,
      query.before ?? "",
      query.limit,
      query.status,
      query.archived,
      query.category ?? "",
    ]);
    const items: FeedItem[] = [];
    for (let i = 4; i < reply.length; i += 2) items.push(toItem(reply[i + 1] as string, reply[i] as string));
    const next = reply[3] === "" ? null : Number(reply[3]);
    return { items, next, counts: toCounts(reply) };
  }

  async counts(feed: FeedRef, now: number): Promise<Counts> {
    return toCounts(await this.#run<number[]>("counts", [...feedKeys(feed.tenant, feed.user), now]));
  }

  async update(feed: FeedRef, id: string, patch: ItemPatch, now: number): Promise<FeedItem | null> {
    const flag = (v: boolean | undefined) => (v === undefined ? "" : v ? "1" : "0");
    const reply = await this.#run<[string, string] | null>("update", [
      ...feedKeys(feed.tenant, feed.user),
      now,
      id,
      flag(patch.read),
      flag(patch.seen),
      flag(patch.archived),
    ]);
    return reply ? toItem(reply[0], reply[1]) : null;
  }

  async mark(feed: FeedRef, action: MarkAction, ids: readonly string[] | null, now: number): Promise<number> {
    return this.#run<number>("mark", [...feedKeys(feed.tenant, feed.user), now, action, ...(ids ?? [])]);
  }

  async remove(feed: FeedRef, id: string, now: number): Promise<boolean> {
    return (await this.#run<number>("remove", [...feedKeys(feed.tenant, feed.user), now, id])) === 1;
  }

  async ping(): Promise<void> {
    await this.#command(() => this.#client.ping());
  }

  async close(): Promise<void> {
    await this.#client.quit().catch(() => this.#client.disconnect());
  }

  async #command<T>(command: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      if (this.#deadlineMs === null) return await command();
      const deadlineMs = this.#deadlineMs;
      return await Promise.race([
        command(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new StoreUnavailableError(`redis: no answer within ${deadlineMs} ms`)), deadlineMs);
        }),
      ]);
    } catch (error) {
      throw toStoreError(error);
    } finally {
      clearTimeout(timer);
    }
  }
}

function toCounts(reply: ArrayLike<unknown>): Counts {
  return { total: Number(reply[0]), unread: Number(reply[1]), unseen: Number(reply[2]) };
}

/** Decodes the state string "seq|seenAt|readAt|archivedAt|category" written by the scripts. */
function toItem(content: string, state: string): FeedItem {
  const [, seen = "", read = "", arch = ""] = state.split("|", 4);
  const ms = (v: string) => (v === "" ? null : Number(v));
  return { content, seenAt: ms(seen), readAt: ms(read), archivedAt: ms(arch) };
}
