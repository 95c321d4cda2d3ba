/**
 * CI smoke of the benchmark driver (`npm run bench`), so that it never rots: a ~2 s run of the
 * real driver against a real Herald on SQLite, with the shared k6 workload. No speed thresholds:
 * it only asserts that the driver seeded, drove every operation of the mix, measured, and wrote
 * its JSON result with zero errors.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { BenchReport } from "../../bench/run.ts";
import { OP_NAMES } from "../../k6/workload.ts";

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "../..");
const dir = mkdtempSync(join(tmpdir(), "herald-bench-smoke-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runDriver(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((ok) => {
    execFile(
      process.execPath,
      [join(ROOT, "bench/run.ts"), ...args],
      { cwd: ROOT, timeout: 150_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        ok({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
      },
    );
  });
}

describe("bench driver smoke", () => {
  it("drives the shared workload against Herald on SQLite and writes a JSON result with ops and no errors", {
    timeout: 180_000,
  }, async () => {
    const out = join(dir, "result.json");
    const { code, output } = await runDriver([
      "--store",
      "sqlite",
      "--target",
      "herald",
      "--duration",
      "2",
      "--warmup",
      "1",
      "--users",
      "200",
      "--seed-per-user",
      "5",
      "--out",
      out,
    ]);
    expect(code, output).toBe(0);
    const report = JSON.parse(readFileSync(out, "utf8")) as BenchReport;
    expect(report.node).toMatch(/^v24\./);
    expect(report.machine.cpuModel).toBeTruthy();
    expect(report.targets).toHaveLength(1);
    const herald = report.targets[0];
    if (!herald) throw new Error("no herald result");
    expect(herald.target).toBe("herald");
    expect(herald.ops).toBeGreaterThan(0);
    expect(herald.opsPerSec).toBeGreaterThan(0);
    expect(herald.errors, herald.errorSamples.join("\n")).toBe(0);
    expect(herald.warmupErrors, herald.errorSamples.join("\n")).toBe(0);
    expect(herald.unexpectedStatus).toBe(0);
    for (const name of OP_NAMES) {
      expect(herald.latencyMs[name]?.count, name).toBeGreaterThan(0);
    }
    expect(herald.latencyMs.overall.p99).toBeGreaterThan(0);
    expect(herald.cores.length).toBeGreaterThan(0);
    expect(herald.seed.sends).toBe(5);
  });
});
