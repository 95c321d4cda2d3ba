import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { z } from "zod";

/** Tenant names become part of store keys, so they exclude braces, colons and spaces. */
export const TENANT_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

const apiKeys = z
  .string()
  .trim()
  .min(1)
  .transform((raw, ctx) => {
    const keys = new Map<string, string>();
    for (const pair of raw.split(",")) {
      const at = pair.indexOf(":");
      const tenant = pair.slice(0, at).trim();
      const key = pair.slice(at + 1).trim();
      if (at < 1 || !TENANT_PATTERN.test(tenant) || key.length < 16) {
        ctx.addIssue({
          code: "custom",
          message: "expected comma-separated tenant:key pairs; tenant [A-Za-z0-9._-]{1,64}, key at least 16 chars",
        });
        return z.NEVER;
      }
      keys.set(key, tenant);
    }
    return keys;
  });

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

const envSchema = z.object({
  NODE_ENV: z.string().optional(),
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default("0.0.0.0"),
  HERALD_STORE_URL: z
    .string()
    .regex(/^(sqlite:|redis:\/\/|rediss:\/\/|redis\+cluster:\/\/)/, "expected sqlite:<path>, redis://, rediss:// or redis+cluster://")
    .default("sqlite:./data/herald.db"),
  HERALD_API_KEYS: apiKeys.optional(),
  HERALD_TOKEN_SECRET: z.string().min(1).optional(),
  HERALD_TOKEN_TTL_S: int(1, 7 * 24 * 3600).default(3600),
  HERALD_FEED_MAX: int(1).default(1000),
  HERALD_BODY_LIMIT: int(1024).default(64 * 1024),
  HERALD_SHUTDOWN_TIMEOUT_MS: int(0).default(10_000),
  HERALD_KEEPALIVE_TIMEOUT_MS: int(1000).default(65_000),
  HERALD_STORE_TIMEOUT_MS: int(10, 60_000).default(1000),
  HERALD_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  HERALD_WORKERS: z
    .union([z.literal("auto"), int(1, 256)])
    .default(1)
    .transform((w) => (w === "auto" ? availableParallelism() : w)),
});

/** Every environment variable Herald reads; deploy manifests are tested against this list. */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape) as readonly string[];

export type Config = {
  production: boolean;
  port: number;
  host: string;
  storeUrl: string;
  /** API key → tenant. */
  apiKeys: Map<string, string>;
  tokenSecret: string;
  tokenTtlS: number;
  feedMax: number;
  bodyLimit: number;
  shutdownTimeoutMs: number;
  keepAliveTimeoutMs: number;
  storeTimeoutMs: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  workers: number;
  /** Set when development credentials were generated and should be printed at start. */
  devCredentials?: { tenant: string; apiKey: string; file: string };
};

export class ConfigError extends Error {}

/**
 * Parses the environment once at boot. Throws ConfigError naming the variable on any bad value.
 *
 * @example
 * const config = loadConfig({ HERALD_STORE_URL: "sqlite::memory:", HERALD_API_KEYS: "acme:0123456789abcdef" });
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable counts as unset (compose files and .env templates often leave them empty).
  const set = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ""));
  const parsed = envSchema.safeParse(set);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === "production";
  const sqlite = e.HERALD_STORE_URL.startsWith("sqlite:");
  if (sqlite && e.HERALD_WORKERS > 1) {
    throw new ConfigError("HERALD_WORKERS: the SQLite store serves one process; use HERALD_WORKERS=1 or a Redis HERALD_STORE_URL");
  }
  let apiKeys = e.HERALD_API_KEYS;
  let tokenSecret = e.HERALD_TOKEN_SECRET;
  let devCredentials: Config["devCredentials"];
  if (production) {
    if (!apiKeys) throw new ConfigError("HERALD_API_KEYS: required when NODE_ENV=production");
    if (!tokenSecret) throw new ConfigError("HERALD_TOKEN_SECRET: required when NODE_ENV=production");
    if (Buffer.byteLength(tokenSecret) < 32) throw new ConfigError("HERALD_TOKEN_SECRET: must be at least 32 bytes");
  } else if (!apiKeys || !tokenSecret) {
    const dev = developmentCredentials(e.HERALD_STORE_URL);
    apiKeys ??= new Map([[dev.apiKey, dev.tenant]]);
    tokenSecret ??= dev.tokenSecret;
    devCredentials = { tenant: dev.tenant, apiKey: dev.apiKey, file: dev.file };
  }
  return {
    production,
    port: e.PORT,
    host: e.HOST,
    storeUrl: e.HERALD_STORE_URL,
    apiKeys,
    tokenSecret,
    tokenTtlS: e.HERALD_TOKEN_TTL_S,
    feedMax: e.HERALD_FEED_MAX,
    bodyLimit: e.HERALD_BODY_LIMIT,
    shutdownTimeoutMs: e.HERALD_SHUTDOWN_TIMEOUT_MS,
    keepAliveTimeoutMs: e.HERALD_KEEPALIVE_TIMEOUT_MS,
    storeTimeoutMs: e.HERALD_STORE_TIMEOUT_MS,
    logLevel: e.HERALD_LOG_LEVEL,
    workers: e.HERALD_WORKERS,
    devCredentials,
  };
}

type DevCredentials = { tenant: string; apiKey: string; tokenSecret: string; file: string };

/**
 * Outside production, generate a development key and secret once and keep them beside the SQLite
 * file (or in ./data for Redis), so that restarts keep working tokens and the printed key stays valid.
 */
function developmentCredentials(storeUrl: string): DevCredentials {
  const path = storeUrl.startsWith("sqlite:") ? storeUrl.slice("sqlite:".length).split("?")[0] : "";
  const dir = path && path !== ":memory:" ? dirname(path) : "./data";
  const file = join(dir, "herald-dev-credentials.json");
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, "utf8")) as DevCredentials;
    return { ...saved, file };
  }
  const created = {
    tenant: "dev",
    apiKey: `hk_dev_${randomBytes(24).toString("base64url")}`,
    tokenSecret: randomBytes(32).toString("base64url"),
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(created, null, 2)}\n`, { mode: 0o600 });
  return { ...created, file };
}
