import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.ts";

const KEYS = "acme:0123456789abcdef";
const SECRET = "s".repeat(32);

describe("configuration", () => {
  it("applies the documented defaults", () => {
    const config = loadConfig({ HERALD_API_KEYS: KEYS, HERALD_TOKEN_SECRET: SECRET });
    expect(config).toMatchObject({
      port: 3000,
      storeUrl: "sqlite:./data/herald.db",
      tokenTtlS: 3600,
      feedMax: 1000,
      bodyLimit: 65536,
      keepAliveTimeoutMs: 65000,
      storeTimeoutMs: 1000,
      workers: 1,
      logLevel: "info",
    });
    expect(config.apiKeys.get("0123456789abcdef")).toBe("acme");
  });

  it("names the variable of a bad value", () => {
    for (const [name, value] of [
      ["PORT", "eighty"],
      ["HERALD_FEED_MAX", "0"],
      ["HERALD_STORE_URL", "mysql://x"],
      ["HERALD_API_KEYS", "no-colon-here"],
      ["HERALD_LOG_LEVEL", "loud"],
      ["HERALD_WORKERS", "many"],
    ]) {
      expect(() => loadConfig({ HERALD_API_KEYS: KEYS, HERALD_TOKEN_SECRET: SECRET, [name as string]: value }), name).toThrow(
        new RegExp(name as string),
      );
    }
  });

  it("treats an empty variable as unset", () => {
    expect(loadConfig({ HERALD_API_KEYS: KEYS, HERALD_TOKEN_SECRET: SECRET, PORT: "", HERALD_FEED_MAX: "" })).toMatchObject({
      port: 3000,
      feedMax: 1000,
    });
  });

  it("refuses more than one worker on the SQLite store", () => {
    expect(() => loadConfig({ HERALD_API_KEYS: KEYS, HERALD_TOKEN_SECRET: SECRET, HERALD_WORKERS: "2" })).toThrow(/HERALD_WORKERS/);
  });

  it("requires keys and a 32-byte secret in production", () => {
    const production = { NODE_ENV: "production" };
    expect(() => loadConfig({ ...production, HERALD_TOKEN_SECRET: SECRET })).toThrow(/HERALD_API_KEYS/);
    expect(() => loadConfig({ ...production, HERALD_API_KEYS: KEYS })).toThrow(/HERALD_TOKEN_SECRET/);
    expect(() => loadConfig({ ...production, HERALD_API_KEYS: KEYS, HERALD_TOKEN_SECRET: "short" })).toThrow(ConfigError);
    expect(loadConfig({ ...production, HERALD_API_KEYS: KEYS, HERALD_TOKEN_SECRET: SECRET }).production).toBe(true);
  });

  it("generates development credentials once and keeps them beside the SQLite file", () => {
    const dir = mkdtempSync(join(tmpdir(), "herald-config-"));
    try {
      const env = { HERALD_STORE_URL: `sqlite:${join(dir, "h.db")}` };
      const first = loadConfig(env);
      const second = loadConfig(env);
      expect(first.devCredentials?.apiKey).toMatch(/^hk_dev_/);
      expect(second.devCredentials?.apiKey).toBe(first.devCredentials?.apiKey);
      expect(second.tokenSecret).toBe(first.tokenSecret);
      expect(JSON.parse(readFileSync(join(dir, "herald-dev-credentials.json"), "utf8")).apiKey).toBe(first.devCredentials?.apiKey);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exits non-zero with a clear message when started with a bad value", () => {
    const result = spawnSync(process.execPath, ["src/main.js"], {
      env: { ...process.env, NODE_ENV: "production", HERALD_API_KEYS: KEYS, HERALD_TOKEN_SECRET: "short" },
      encoding: "utf8",
      timeout: 10_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/HERALD_TOKEN_SECRET/);
  });
});
