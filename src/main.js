import module from "node:module";

// Reuse V8's compiled code, and the type-stripped TypeScript, across starts (kept in the OS temp
// dir): time to ready roughly halves once the cache is warm (BENCHMARKS.md). This entry point is
// plain JavaScript on purpose: were it TypeScript, Node would load its type stripper (a
// WebAssembly module: ~40 ms of start-up and ~18 MB of RSS) just for this file, before the cache
// is on.
module.enableCompileCache?.();
await import("./start.ts");
