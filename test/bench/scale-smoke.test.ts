/**
 * CI smoke of the scale-out benchmark (`npm run bench:scale -- --quick`), so that it never rots: a
 * few seconds per step of the real driver with 1, 2 and 3 real Herald instances behind real HAProxy
 * on a private Redis, under the shared k6 workload. No speed thresholds (CI machines vary, and the
 * cgroup quota needs root; without it quick mode runs unlimited): it asserts that the driver
 * produced figures for each step, with zero errors, and that HAProxy spread the load over every
 * instance of each step.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { ScaleReport } from "../../bench/scale.ts";
import { OP_NAMES } from "../../k6/workload.ts";

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "../..");
const dir = mkdtempSync(join(tmpdir(), "herald-scale-smoke-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runScale(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((ok) => {
    execFile(
      process.execPath,
      [join(ROOT, "bench/scale.ts"), ...args],
      { cwd: ROOT, timeout: 150_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        ok({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
      },
    );
  });
}

describe("scale benchmark smoke", () => {
  it("produces throughput figures for 1, 2 and 3 instances behind HAProxy with zero errors", { timeout: 180_000 }, async () => {
    const out = join(dir, "scale.json");
    const { code, output } = await runScale(["--quick", "--out", out]);
    expect(code, output).toBe(0);
    const report = JSON.parse(readFileSync(out, "utf8")) as ScaleReport;
    expect(report.node).toMatch(/^v24\./);
    expect(report.settings.quick).toBe(true);
    expect(report.steps.map((s) => s.instances)).toEqual([1, 2, 3]);
    expect(report.scaling.map((s) => s.instances)).toEqual([1, 2, 3]);
    expect(report.scaling[0]?.ratio).toBe(1);
    for (const step of report.steps) {
      const label = `${step.instances} instance(s)`;
      expect(step.opsPerSec, label).toBeGreaterThan(0);
      expect(step.errors, `${label}: ${step.errorSamples.join("\n")}`).toBe(0);
      expect(step.warmupErrors, `${label}: ${step.errorSamples.join("\n")}`).toBe(0);
      expect(step.unexpectedStatus, label).toBe(0);
      expect(step.latencyMs.overall.p99, label).toBeGreaterThan(0);
      for (const name of OP_NAMES) expect(step.latencyMs[name]?.count, `${label}: ${name}`).toBeGreaterThan(0);
      // Every instance of the step took part: HAProxy sent it requests and it used CPU.
      expect(
        step.perInstance.map((i) => i.name),
        label,
      ).toEqual(Array.from({ length: step.instances }, (_, k) => `herald${k + 1}`));
      for (const instance of step.perInstance) {
        expect(instance.requests, `${label}: ${instance.name}`).toBeGreaterThan(0);
        expect(instance.cpuPct, `${label}: ${instance.name}`).toBeGreaterThan(0);
      }
      const r = report.scaling.find((s) => s.instances === step.instances);
      expect(r?.opsPerSec).toBe(step.opsPerSec);
      expect(r?.efficiency).toBeCloseTo((r?.ratio ?? 0) / step.instances, 1);
    }
  });
});
