import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { startHerald } from "../support/herald.ts";

const dir = mkdtempSync(join(tmpdir(), "herald-first-start-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a first start with no configuration", () => {
  it("serves on SQLite and prints a development key that works right away", async () => {
    const env = { HERALD_STORE_URL: `sqlite:${join(dir, "herald.db")}`, HERALD_API_KEYS: "", HERALD_TOKEN_SECRET: "", NODE_ENV: "" };
    const herald = await startHerald(env);
    try {
      await new Promise((r) => setTimeout(r, 200));
      const key = /API key \(tenant "dev"\): (\S+)/.exec(herald.output())?.[1];
      expect(key, herald.output()).toMatch(/^hk_dev_/);
      const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
      const sent = await request(`${herald.url}/v1/notifications`, {
        method: "POST",
        headers,
        body: JSON.stringify({ recipients: ["alice"], title: "Hello from Herald" }),
      });
      expect(sent.statusCode, await sent.body.text()).toBe(201);
      const feed = await request(`${herald.url}/v1/users/alice/notifications`, { headers });
      const body = (await feed.body.json()) as { items: Array<{ title: string }> };
      expect(body.items.map((i) => i.title)).toEqual(["Hello from Herald"]);
    } finally {
      herald.child.kill("SIGTERM");
      expect(await herald.exited).toBe(0);
    }
  });
});
