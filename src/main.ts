import module from "node:module";

// Reuse V8's compiled code across starts (kept in the OS temp dir): time to ready roughly halves
// once the cache is warm (BENCHMARKS.md). Then load everything else.
module.enableCompileCache?.();
await import("./start.ts");
