import { execFile, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  parentDeathSignalSupported,
  processAlive,
  type RedisClusterHandle,
  type RedisServer,
  redisCommand,
  startRedis,
  startRedisCluster,
} from "./redis.ts";

const HARNESS = fileURLToPath(new URL("./redis.ts", import.meta.url));

/** redis-cli in cluster mode (-c follows MOVED redirects); resolves to its trimmed stdout. */
function cli(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("redis-cli", ["-c", "-p", String(port), ...args], { timeout: 5000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stdout}${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

async function expectGone(pid: number): Promise<void> {
  await eventually(() => expect(processAlive(pid), `pid ${pid} should be gone`).toBe(false), 3000);
}

describe("startRedis", () => {
  const servers: RedisServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.cleanup()));
  });

  it("answers PING, survives kill()+start() and stop()+start() on the same port, and cleans up", async () => {
    const redis = await startRedis();
    servers.push(redis);
    expect(redis.port).not.toBe(6379);
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(await redisCommand(redis.port, ["PING"])).toBe("PONG");
    expect(await redisCommand(redis.port, ["CONFIG", "GET", "save"])).toEqual(["save", ""]);
    expect(await redisCommand(redis.port, ["CONFIG", "GET", "appendonly"])).toEqual(["appendonly", "no"]);

    const firstPid = redis.pid as number;
    await redis.kill();
    expect(redis.running).toBe(false);
    expect(redis.pid).toBeUndefined();
    expect(processAlive(firstPid)).toBe(false);
    await expect(redisCommand(redis.port, ["PING"])).rejects.toThrow(/ECONNREFUSED/);

    await redis.start();
    expect(redis.pid).not.toBe(firstPid);
    expect(await redisCommand(redis.port, ["PING"])).toBe("PONG");

    await redis.stop();
    expect(redis.running).toBe(false);
    await redis.start();
    expect(await redisCommand(redis.port, ["PING"])).toBe("PONG");

    const pid = redis.pid as number;
    const dir = redis.dir;
    expect(existsSync(dir)).toBe(true);
    await redis.cleanup();
    expect(processAlive(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    await redis.cleanup(); // idempotent
  });

  it("passes extra args, which override the defaults: AOF with fsync always survives a SIGKILL", async () => {
    const redis = await startRedis({ args: ["--appendonly", "yes", "--appendfsync", "always"] });
    servers.push(redis);
    expect(await redisCommand(redis.port, ["SET", "k", "v"])).toBe("OK");
    await redis.kill();
    await redis.start();
    expect(await redisCommand(redis.port, ["GET", "k"])).toBe("v");
  });

  it("gives concurrent servers distinct ports", async () => {
    const many = await Promise.all([startRedis(), startRedis(), startRedis()]);
    servers.push(...many);
    expect(new Set(many.map((server) => server.port)).size).toBe(3);
    await Promise.all(many.map((server) => server.cleanup()));
  });
});

describe.concurrent("the exit hooks", () => {
  /** Runs a Node 24 script that starts a server, reports its pid and dir, then dies as told. */
  async function orphanCheck(ending: "throw" | "SIGTERM" | "SIGKILL"): Promise<void> {
    const script = `
      import { startRedis } from ${JSON.stringify(HARNESS)};
      const redis = await startRedis();
      console.log(JSON.stringify({ pid: redis.pid, dir: redis.dir }));
      if (${JSON.stringify(ending)} === "throw") throw new Error("boom");
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const { pid, dir } = await eventually(() => JSON.parse(stdout.split("\n")[0] as string), 10_000).catch(() => {
      throw new Error(`script did not report: ${stdout}${stderr}`);
    });
    if (ending !== "throw") child.kill(ending);
    const code = await exited;
    if (ending === "throw") expect(code).toBe(1);
    await expectGone(pid);
    if (ending === "SIGKILL") {
      rmSync(dir, { recursive: true, force: true }); // nothing runs in a SIGKILLed process to remove it
    } else {
      expect(existsSync(dir)).toBe(false);
    }
  }

  it("kill the servers of a test process that dies of an uncaught error", () => orphanCheck("throw"));
  it("kill the servers of a test process stopped with SIGTERM (as Vitest stops its workers)", () => orphanCheck("SIGTERM"));
  it.runIf(parentDeathSignalSupported())("kill the servers of a SIGKILLed test process (setpriv --pdeathsig)", () =>
    orphanCheck("SIGKILL"),
  );
});

describe("startRedisCluster", () => {
  let cluster: RedisClusterHandle | undefined;
  afterAll(async () => {
    await cluster?.cleanup();
  });

  it("forms a 3-master cluster, serves keys via redis-cli -c, and keeps the other masters' slots when one dies", async () => {
    const started = Date.now();
    cluster = await startRedisCluster();
    const setupMs = Date.now() - started;
    const { nodes } = cluster;
    expect(nodes).toHaveLength(3);
    expect(cluster.url).toBe(`redis+cluster://${nodes.map((node) => `127.0.0.1:${node.port}`).join(",")}`);
    expect(cluster.seeds).toEqual(nodes.map((node) => ({ host: "127.0.0.1", port: node.port })));
    for (const node of nodes) {
      expect(String(await redisCommand(node.port, ["CLUSTER", "INFO"]))).toContain("cluster_state:ok");
    }

    // Every node answers for every key, following redirects.
    const first = nodes[0]?.port as number;
    const last = nodes[2]?.port as number;
    expect(await cli(first, "SET", "{a}:k", "1")).toBe("OK");
    expect(await cli(last, "GET", "{a}:k")).toBe("1");

    // Find two keys owned by different masters.
    const victim = await cluster.masterForKey("{a}:k");
    let survivorKey = "";
    let survivor = victim;
    for (let i = 0; survivor.port === victim.port; i++) {
      survivorKey = `{s${i}}:k`;
      survivor = await cluster.masterForKey(survivorKey);
    }
    const victimNode = nodes.find((node) => node.port === victim.port);
    const liveNode = nodes.find((node) => node.port === survivor.port);
    if (!victimNode || !liveNode) throw new Error("masterForKey returned a port that is not a node");

    await victimNode.kill();
    expect(victimNode.running).toBe(false);

    // The surviving masters keep serving their own slots (require-full-coverage no) ...
    expect(await cli(liveNode.port, "SET", survivorKey, "2")).toBe("OK");
    expect(await cli(liveNode.port, "GET", survivorKey)).toBe("2");
    expect(String(await redisCommand(liveNode.port, ["CLUSTER", "INFO"]))).toContain("cluster_state:ok");
    // ... while the dead master's slots are still assigned to it.
    await expect(redisCommand(liveNode.port, ["SET", "{a}:k", "x"])).rejects.toThrow(`:${victim.port}`);
    expect((await cluster.masterForKey("{a}:k")).port).toBe(victim.port);

    // Restarted on the same port and dir, the master serves its slots again as soon as start() resolves
    // (its data is gone: no persistence).
    await victimNode.start();
    expect(await cli(first, "GET", "{a}:k")).toBe("");
    expect(await cli(first, "SET", "{a}:k", "3")).toBe("OK");
    expect(await cli(last, "GET", "{a}:k")).toBe("3");

    const pids = nodes.map((node) => node.pid as number);
    const dirs = nodes.map((node) => node.dir);
    await cluster.cleanup();
    for (const pid of pids) expect(processAlive(pid)).toBe(false);
    for (const dir of dirs) expect(existsSync(dir)).toBe(false);
    console.log(`cluster of 3 masters ready in ${setupMs} ms`);
  });
});
