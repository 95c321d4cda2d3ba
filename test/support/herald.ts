import { type ChildProcess, spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export type HeraldProcess = {
  port: number;
  url: string;
  child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  exited: Promise<number | string>;
  output(): string;
};

/**
 * Starts `node src/main.js` as a real process on a free port (PORT=0) and resolves once it listens
 * (once `listeners` processes listen, for HERALD_WORKERS).
 *
 * @example
 * const herald = await startHerald({ HERALD_STORE_URL: `sqlite:${dir}/h.db` });
 */
export async function startHerald(env: NodeJS.ProcessEnv, timeoutMs = 15_000, listeners = 1): Promise<HeraldProcess> {
  const child = spawn(process.execPath, [resolve(ROOT, "src/main.js")], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", HERALD_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const exited = new Promise<number | string>((done) => child.once("exit", (code, signal) => done(code ?? signal ?? -1)));
  const port = await new Promise<number>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`herald did not start in ${timeoutMs} ms:\n${log}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      // With HERALD_WORKERS, wait until every worker has logged that it listens.
      const matches = [...log.matchAll(/"port":(\d+)[^\n]*"msg":"herald listening"/g)];
      const match = matches.length >= listeners ? matches[0] : undefined;
      if (match) {
        clearTimeout(timer);
        done(Number(match[1]));
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      log += chunk.toString();
    });
    exited.then((code) => fail(new Error(`herald exited (${code}) before listening:\n${log}`)));
  });
  process.once("exit", () => child.kill("SIGKILL"));
  return { port, url: `http://127.0.0.1:${port}`, child, exited, output: () => log };
}
