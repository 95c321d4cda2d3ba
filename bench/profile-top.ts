/**
 * Prints the top entries of a V8 .cpuprofile (from `node --cpu-prof`) by self time, and the
 * inclusive time of a few grouped areas, over a time window of the profile only (so that start-up,
 * seeding and shutdown do not drown the measured load).
 *
 * Usage: node bench/profile-top.ts FILE.cpuprofile [--window 20] [--tail 1] [--top 25]
 *   --window S  seconds of samples to keep, ending --tail S before the profile's end (default 20, 1)
 *
 * With the benchmark: npm run bench -- --target herald --herald-cmd "node --cpu-prof --cpu-prof-dir=DIR src/main.js"
 * (the server writes the profile when it exits at the end of the run).
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] };
type Profile = { nodes: Node[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    window: { type: "string", default: "20" },
    tail: { type: "string", default: "1" },
    top: { type: "string", default: "25" },
    callers: { type: "string" },
  },
});
const file = positionals[0];
if (!file) throw new Error("usage: node bench/profile-top.ts FILE.cpuprofile [--window S] [--tail S] [--top N]");
const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const end = p.endTime - Number(values.tail) * 1e6;
const start = end - Number(values.window) * 1e6;
const self = new Map<number, number>();
let t = p.startTime;
let total = 0;
for (let i = 0; i < p.samples.length; i++) {
  t += p.timeDeltas[i] ?? 0;
  if (t < start || t > end) continue;
  const id = p.samples[i] as number;
  self.set(id, (self.get(id) ?? 0) + 1);
  total++;
}

const short = (url: string) =>
  url
    .replace(/^.*\/node_modules\//, "")
    .replace(/^file:\/\/.*?\/(src|bench)\//, "$1/")
    .replace(/^node:/, "node:");
const label = (n: Node) =>
  `${n.callFrame.functionName || "(anonymous)"} ${short(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ""}`;

const selfBy = new Map<string, number>();
for (const [id, c] of self) {
  const key = label(byId.get(id) as Node);
  selfBy.set(key, (selfBy.get(key) ?? 0) + c);
}
const pct = (c: number) => `${((100 * c) / total).toFixed(1).padStart(5)}%`;
console.log(`${total} samples in the window (${values.window} s ending ${values.tail} s before the end)`);
const idle = selfBy.get("(idle) ") ?? 0;
console.log(`busy (non-idle) ${pct(total - idle)}`);
console.log("\nself time, top entries:");
for (const [k, c] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) console.log(`${pct(c)}  ${k}`);

// Inclusive time by package / area: a sample counts once for each area on its stack.
const areaOf = (n: Node): string | null => {
  const u = n.callFrame.url;
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
  if (m) return m[1] as string;
  if (u.includes("/src/")) return `src/${u.split("/src/")[1]}`;
  if (u.includes("/bench/")) return `bench/${u.split("/bench/")[1]}`;
  if (u.startsWith("node:")) return u;
  if (n.callFrame.functionName === "(garbage collector)") return "(gc)";
  return null;
};
const incl = new Map<string, number>();
for (const [id, c] of self) {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const a = areaOf(byId.get(cur) as Node);
    if (a && !seen.has(a)) {
      seen.add(a);
      incl.set(a, (incl.get(a) ?? 0) + c);
    }
  }
}
console.log("\ninclusive time by package / file (a sample counts once per area on its stack):");
for (const [k, c] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) console.log(`${pct(c)}  ${k}`);

// Self time by area: a sample's self time goes to the innermost frame that belongs to an area
// (so V8 builtins count for whoever called them). "idle" and "(program)" stay apart.
const selfArea = new Map<string, number>();
for (const [id, c] of self) {
  const leaf = byId.get(id) as Node;
  let area: string | null = ["(idle)", "(program)", "(garbage collector)"].includes(leaf.callFrame.functionName)
    ? leaf.callFrame.functionName
    : null;
  for (let cur: number | undefined = id; area === null && cur !== undefined; cur = parent.get(cur)) area = areaOf(byId.get(cur) as Node);
  area ??= "(other)";
  selfArea.set(area, (selfArea.get(area) ?? 0) + c);
}
console.log("\nself time by package / file (builtins counted for their caller):");
for (const [k, c] of [...selfArea].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) console.log(`${pct(c)}  ${k}`);

// --callers NAME: the heaviest stacks leading to a function, to see who pays for it.
const callersOf = process.argv.indexOf("--callers");
if (callersOf > 0) {
  const name = process.argv[callersOf + 1] ?? "";
  const stacks = new Map<string, number>();
  for (const [id, c] of self) {
    const chain: string[] = [];
    let hit = false;
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur) as Node;
      if (n.callFrame.functionName === name) hit = true;
      if (hit) chain.push(label(n));
      if (chain.length >= 8) break;
    }
    if (hit) stacks.set(chain.join(" <- "), (stacks.get(chain.join(" <- ")) ?? 0) + c);
  }
  console.log(`\nstacks through ${name}:`);
  for (const [k, c] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`${pct(c)}  ${k}`);
}
