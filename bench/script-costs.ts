/**
 * Redis CPU per store operation: seeds a private redis-server (pinned to CPU 1) with 2,000 feeds of
 * 50 items through Herald's own Redis store, runs each operation, and reads `usec_per_call` of
 * EVALSHA from INFO commandstats. This is the server-side cost of one script call, which bounds
 * what one Redis core can serve.
 *
 *   node bench/script-costs.ts
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openRedisStore } from "../src/store/redis/redis-store.ts";
import { freePort, killChildren, startBenchRedis } from "./processes.ts";

const USERS = 2000;
const dir = mkdtempSync(join(tmpdir(), "herald-script-costs-"));
const redis = await startBenchRedis(dir, await freePort(), "1");
const port = new URL(redis.url).port;
const cli = (...args: string[]) => execFileSync("redis-cli", ["-p", port, ...args], { encoding: "utf8" });
const store = await openRedisStore({ url: redis.url, feedMax: 1000, timeoutMs: 5000 });
const users = Array.from({ length: USERS }, (_, i) => `u${i}`);
const user = (i: number) => users[i % USERS] as string;
const itemId = (b: number) => `n${b}-0f8fad5b-d9cb-469f-a165-70867728950e`;
const content = JSON.stringify({
  id: itemId(0),
  title: "Invoice INV-1234 is ready",
  body: "b".repeat(180),
  category: "billing",
  data: { entityId: "e1", actor: "ann", priority: 2 },
  actionUrl: "https://app.example.com/billing/1",
  createdAt: new Date().toISOString(),
  expiresAt: null,
});
const notification = (id: string) => ({ id, createdAt: Date.now(), expiresAt: null, category: "billing", content });
for (let b = 0; b < 50; b++) await store.deliver("acme", users, notification(itemId(b)), { now: Date.now(), dedupeMs: 86_400_000 });

async function measure(name: string, calls: number, op: (i: number) => Promise<unknown>): Promise<void> {
  cli("CONFIG", "RESETSTAT");
  for (let i = 0; i < calls; i += 32) await Promise.all(Array.from({ length: 32 }, (_, j) => op(i + j)));
  const line = cli("INFO", "commandstats")
    .split("\n")
    .find((l) => l.startsWith("cmdstat_evalsha:"));
  console.log(`${name.padEnd(10)} ${line?.match(/usec_per_call=[0-9.]+/)?.[0] ?? "no evalsha calls"}`);
}

const query = { limit: 20, before: null, status: "all" as const, archived: "exclude" as const, category: null };
await measure("list", 20_000, (i) => store.list({ tenant: "acme", user: user(i) }, query, Date.now()));
await measure("counts", 20_000, (i) => store.counts({ tenant: "acme", user: user(i) }, Date.now()));
await measure("update", 20_000, (i) => store.update({ tenant: "acme", user: user(i) }, itemId(i % 50), { read: true }, Date.now()));
await measure("deliver", 5_000, (i) => store.deliver("acme", [user(i)], notification(`d${i}`), { now: Date.now(), dedupeMs: 86_400_000 }));
await measure("reserve", 5_000, (i) =>
  store.reserveIdempotency("acme", `k${i}`, {
    fingerprint: "f",
    id: `r${i}`,
    createdAt: 1,
    now: Date.now(),
    leaseMs: 5000,
    ttlMs: 86_400_000,
  }),
);
await store.close();
killChildren();
rmSync(dir, { recursive: true, force: true });
