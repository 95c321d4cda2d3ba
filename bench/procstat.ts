/** Linux /proc readings for the benchmark: per-core busy time, a process's CPU time and RSS. */
import { readFileSync } from "node:fs";

export interface CoreTimes {
  cpu: number;
  idle: number;
  total: number;
}

/** Jiffies per core from /proc/stat (idle includes iowait). Empty where /proc is missing. */
export function readCores(): CoreTimes[] {
  let text: string;
  try {
    text = readFileSync("/proc/stat", "utf8");
  } catch {
    return [];
  }
  const out: CoreTimes[] = [];
  for (const line of text.split("\n")) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = (m[2] ?? "").trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal (guest and guest_nice are already in user/nice)
    const fields = v.slice(0, 8);
    const total = fields.reduce((a, b) => a + b, 0);
    out.push({ cpu: Number(m[1]), idle: (v[3] ?? 0) + (v[4] ?? 0), total });
  }
  return out;
}

/** Busy % of each core between two readings. */
export function busyPercent(before: CoreTimes[], after: CoreTimes[]): Array<{ cpu: number; busyPct: number }> {
  return after.map((a) => {
    const b = before.find((x) => x.cpu === a.cpu);
    const total = b ? a.total - b.total : 0;
    const idle = b ? a.idle - b.idle : 0;
    return { cpu: a.cpu, busyPct: total > 0 ? Math.round(1000 * (1 - idle / total)) / 10 : 0 };
  });
}

/** utime + stime of a process, in seconds (assumes the usual 100 Hz clock tick), or null. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is state (field 3); utime is field 14, stime field 15
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** Resident set size of a process in MiB, or null. */
export function processRssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : null;
  } catch {
    return null;
  }
}
