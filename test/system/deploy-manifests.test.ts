/**
 * The deployment files (Dockerfile, docker-compose.yml, deploy/k8s/, deploy/haproxy.cfg) cannot be
 * run here (no Docker engine, no Kubernetes), so this suite checks that they agree with Herald's
 * own configuration: ports, probe paths, env names, and the signal / grace-period arithmetic.
 * HAProxy's config is validated for real with `haproxy -c`.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { haproxyEnvironment, haproxySlots } from "../../scripts/cluster.ts";
import { CONFIG_VARIABLES, type Config, loadConfig } from "../../src/config.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const K8S = join(ROOT, "deploy", "k8s");
const HAPROXY_CFG = join(ROOT, "deploy", "haproxy.cfg");
const read = (...parts: string[]) => readFileSync(join(ROOT, ...parts), "utf8");
const show = (value: unknown) => JSON.stringify(value);

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML is untyped by nature
type Any = any;

/** Herald's defaults, from its own loader (production mode, so that nothing is written to disk). */
const VALID_SECRETS = { HERALD_API_KEYS: "test:0123456789abcdef0123", HERALD_TOKEN_SECRET: "s".repeat(32) };
const defaults: Config = loadConfig({ NODE_ENV: "production", HERALD_STORE_URL: "redis://127.0.0.1:6379", ...VALID_SECRETS });

/** HAProxy / compose / Kubernetes durations ("1m30s", "65s", "500ms", "2000" = ms for HAProxy) in ms. */
function durationMs(text: string, bareUnit: "ms" | "s"): number {
  const units: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const trimmed = String(text).trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * units[bareUnit]!;
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(us|ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== trimmed) throw new Error(`not a duration: ${show(text)}`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
}

/** Parses each k8s manifest (one document per file) and indexes them by kind. */
function loadK8s() {
  const files = readdirSync(K8S).filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"));
  const docs: { file: string; doc: Any }[] = [];
  for (const file of files) {
    for (const d of parseAllDocuments(readFileSync(join(K8S, file), "utf8"))) {
      expect(d.errors, `${file}: YAML errors ${show(d.errors.map((e) => e.message))}`).toEqual([]);
      const doc = d.toJS();
      if (doc) docs.push({ file, doc });
    }
  }
  const byKind = (kind: string): Any[] => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);
  const one = (kind: string): Any => {
    const found = byKind(kind);
    expect(found.length, `expected exactly one ${kind} in deploy/k8s, found ${found.length}`).toBe(1);
    return found[0];
  };
  return { files, docs, byKind, one };
}

const k8s = loadK8s();
const deployment = k8s.one("Deployment");
const podSpec = deployment.spec.template.spec;
const container = podSpec.containers.find((c: Any) => c.name === "herald") ?? podSpec.containers[0];
const configMap = k8s.one("ConfigMap");
const secret = k8s.one("Secret");
const service = k8s.one("Service");
const hpa = k8s.one("HorizontalPodAutoscaler");
const pdb = k8s.one("PodDisruptionBudget");

const compose: Any = parse(read("docker-compose.yml"), { merge: true });
const heraldServices = Object.entries(compose.services as Record<string, Any>).filter(([, s]) => s.build !== undefined);
const haproxyService: Any = Object.values(compose.services as Record<string, Any>).find((s: Any) =>
  String(s.image ?? "").startsWith("haproxy"),
);

/** Compose interpolation, enough for ${VAR}, ${VAR:-default} and ${VAR:?message}. */
function interpolate(value: unknown, env: Record<string, string>): string {
  return String(value).replace(/\$\{(\w+)(?::?[-?][^}]*)?\}/g, (whole, name: string) => {
    if (env[name] !== undefined) return env[name];
    const fallback = /:?-([^}]*)\}$/.exec(whole);
    return fallback ? fallback[1]! : "";
  });
}

/** The resolved env of the Herald container, from the ConfigMap and the Secret (later wins, as envFrom does). */
function podEnv(secretValues: Record<string, string> = secret.stringData ?? {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) {
      expect(source.configMapRef.name, "envFrom configMapRef names the ConfigMap").toBe(configMap.metadata.name);
      Object.assign(env, configMap.data);
    }
    if (source.secretRef) {
      expect(source.secretRef.name, "envFrom secretRef names the Secret").toBe(secret.metadata.name);
      Object.assign(env, secretValues);
    }
  }
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = String(e.value);
  return env;
}

/** Resolves a named or numeric container port. */
function resolvePort(port: string | number): number | undefined {
  if (typeof port === "number") return port;
  return container.ports?.find((p: Any) => p.name === port)?.containerPort;
}

/** Seconds of a preStop hook: exec ["sleep", N] or the native sleep action. */
function preStopSeconds(): number {
  const hook = container.lifecycle?.preStop;
  if (hook?.sleep) return Number(hook.sleep.seconds);
  const cmd: string[] = hook?.exec?.command ?? [];
  const at = cmd.findIndex((c) => c === "sleep" || c.endsWith("/sleep"));
  if (at >= 0 && cmd[at + 1] !== undefined) return Number(cmd[at + 1]);
  const inline = /\bsleep\s+(\d+(?:\.\d+)?)/.exec(cmd.join(" "));
  return inline ? Number(inline[1]) : Number.NaN;
}

/** The HAProxy config's directives, without comments. */
function haproxyConfig(): string {
  return readFileSync(HAPROXY_CFG, "utf8")
    .split("\n")
    .map((line) => line.replace(/(^|\s)#.*$/, "").trimEnd())
    .join("\n");
}

/** Every `timeout <name> <value>` in the HAProxy config, in ms. */
function haproxyTimeouts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of haproxyConfig().matchAll(/^\s*timeout\s+([\w-]+)\s+(\S+)/gm)) {
    out[m[1]!] = durationMs(m[2]!, "ms");
  }
  return out;
}

function runHaproxyCheck(env: Record<string, string>) {
  const result = spawnSync("haproxy", ["-c", "-f", HAPROXY_CFG], { env: { PATH: process.env.PATH, ...env }, encoding: "utf8" });
  if (result.error) throw new Error(`haproxy could not run (${result.error.message}); install it: apt-get install -y haproxy`);
  return result;
}

describe("Kubernetes manifests agree with Herald's configuration", () => {
  it("lists every manifest in kustomization.yaml and nothing else", () => {
    const kustomization = parse(readFileSync(join(K8S, "kustomization.yaml"), "utf8"));
    const listed = [...(kustomization.resources ?? [])].sort();
    const present = k8s.files.filter((f) => f !== "kustomization.yaml").sort();
    expect(listed, `kustomization resources ${show(listed)} vs files ${show(present)}`).toEqual(present);
  });

  it("exposes the container on Herald's default PORT, and sets PORT to the same value", () => {
    const ports = (container.ports ?? []).map((p: Any) => p.containerPort);
    expect(ports, `containerPorts ${show(ports)} vs Herald's default PORT ${defaults.port}`).toEqual([defaults.port]);
    const env = podEnv();
    expect(env.PORT, `PORT in the pod env is ${show(env.PORT)}`).toBe(String(defaults.port));
  });

  it("uses only environment variables that Herald reads", () => {
    const names = [
      ...Object.keys(configMap.data ?? {}),
      ...Object.keys(secret.stringData ?? {}),
      ...Object.keys(secret.data ?? {}),
      ...(container.env ?? []).map((e: Any) => e.name),
    ];
    const unknown = names.filter((n) => !CONFIG_VARIABLES.includes(n));
    expect(unknown, `not Herald variables: ${show(unknown)}; Herald reads ${show(CONFIG_VARIABLES)}`).toEqual([]);
    expect(names.length, "the ConfigMap and Secret define some variables").toBeGreaterThan(0);
  });

  it("configures Herald for production on Redis, with one worker per pod, in a way Herald's loader accepts", () => {
    const env = podEnv(VALID_SECRETS);
    const config = loadConfig(env);
    expect(config.production, `NODE_ENV is ${show(env.NODE_ENV)}`).toBe(true);
    expect(config.storeUrl, `HERALD_STORE_URL is ${show(config.storeUrl)}`).toMatch(/^(redis|rediss|redis\+cluster):\/\//);
    expect(config.workers, `HERALD_WORKERS resolves to ${config.workers}`).toBe(1);
  });

  it("ships placeholder secrets that Herald refuses, so that nobody runs with them", () => {
    expect(() => loadConfig(podEnv()), `the Secret's values ${show(secret.stringData)} were accepted`).toThrow(/HERALD_/);
  });

  it("probes readiness on /readyz and liveness on /livez, on Herald's port", () => {
    const probes = {
      readiness: container.readinessProbe?.httpGet,
      liveness: container.livenessProbe?.httpGet,
      startup: container.startupProbe?.httpGet,
    };
    expect(probes.readiness?.path, `readinessProbe ${show(probes.readiness)}`).toBe("/readyz");
    expect(probes.liveness?.path, `livenessProbe ${show(probes.liveness)}`).toBe("/livez");
    if (container.startupProbe) expect(probes.startup?.path, `startupProbe ${show(probes.startup)}`).toBe("/livez");
    for (const [kind, probe] of Object.entries(probes)) {
      if (!probe) continue;
      expect(resolvePort(probe.port), `${kind} probe port ${show(probe.port)} vs PORT ${defaults.port}`).toBe(defaults.port);
    }
  });

  it("gives a terminating pod more time than the preStop sleep plus Herald's drain", () => {
    const sleepS = preStopSeconds();
    const env = podEnv();
    const drainMs = env.HERALD_SHUTDOWN_TIMEOUT_MS ? Number(env.HERALD_SHUTDOWN_TIMEOUT_MS) : defaults.shutdownTimeoutMs;
    const grace = podSpec.terminationGracePeriodSeconds;
    expect(sleepS, `preStop hook ${show(container.lifecycle?.preStop)} has no sleep`).toBeGreaterThan(0);
    expect(grace, `terminationGracePeriodSeconds ${grace} vs preStop ${sleepS} s + drain ${drainMs / 1000} s`).toBeGreaterThan(
      sleepS + drainMs / 1000,
    );
  });

  it("sets CPU and memory requests and limits, with a CPU limit of about one core for one process", () => {
    const r = container.resources ?? {};
    for (const path of ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"]) {
      const [a, b] = path.split(".") as [string, string];
      expect(r[a]?.[b], `resources.${path} is missing: ${show(r)}`).toBeDefined();
    }
    const cores = (v: string | number) => (String(v).endsWith("m") ? Number.parseFloat(String(v)) / 1000 : Number(v));
    expect(cores(r.limits.cpu), `limits.cpu ${show(r.limits.cpu)}`).toBeGreaterThanOrEqual(1);
    expect(cores(r.limits.cpu), `limits.cpu ${show(r.limits.cpu)}`).toBeLessThanOrEqual(2);
  });

  it("runs the pod as a non-root user", () => {
    const pod = podSpec.securityContext ?? {};
    const c = container.securityContext ?? {};
    const nonRoot = c.runAsNonRoot ?? pod.runAsNonRoot;
    const uid = c.runAsUser ?? pod.runAsUser;
    expect(nonRoot, `runAsNonRoot ${show(nonRoot)}`).toBe(true);
    if (uid !== undefined) expect(uid, `runAsUser ${uid}`).not.toBe(0);
    expect(c.allowPrivilegeEscalation, `allowPrivilegeEscalation ${show(c.allowPrivilegeEscalation)}`).toBe(false);
  });

  it("selects the Deployment's pods from the Service, without session affinity, on the container port", () => {
    const labels = deployment.spec.template.metadata.labels ?? {};
    const selector = service.spec.selector ?? {};
    const mismatched = Object.entries(selector).filter(([k, v]) => labels[k] !== v);
    expect(Object.keys(selector).length, "the Service has a selector").toBeGreaterThan(0);
    expect(mismatched, `Service selector ${show(selector)} vs pod labels ${show(labels)}`).toEqual([]);
    expect(service.spec.type ?? "ClusterIP", `Service type ${show(service.spec.type)}`).toBe("ClusterIP");
    expect(service.spec.sessionAffinity ?? "None", `sessionAffinity ${show(service.spec.sessionAffinity)}`).toBe("None");
    for (const p of service.spec.ports) {
      expect(resolvePort(p.targetPort ?? p.port), `Service port ${show(p)} does not reach ${defaults.port}`).toBe(defaults.port);
    }
  });

  it("matches the Deployment's own selector to its pod labels", () => {
    const labels = deployment.spec.template.metadata.labels ?? {};
    const match = deployment.spec.selector.matchLabels ?? {};
    const mismatched = Object.entries(match).filter(([k, v]) => labels[k] !== v);
    expect(mismatched, `Deployment selector ${show(match)} vs pod labels ${show(labels)}`).toEqual([]);
  });

  it("autoscales the Deployment by name on CPU, up fast and down slowly", () => {
    const ref = hpa.spec.scaleTargetRef;
    expect(hpa.apiVersion, "HPA apiVersion").toBe("autoscaling/v2");
    expect(`${ref.kind}/${ref.name}`, `scaleTargetRef ${show(ref)}`).toBe(`Deployment/${deployment.metadata.name}`);
    const cpu = (hpa.spec.metrics ?? []).find((m: Any) => m.type === "Resource" && m.resource?.name === "cpu");
    expect(cpu, `no CPU metric in ${show(hpa.spec.metrics)}`).toBeDefined();
    const target = cpu.resource.target.averageUtilization;
    expect(target, `CPU target ${target}%`).toBeGreaterThan(0);
    expect(target, `CPU target ${target}%`).toBeLessThanOrEqual(90);
    const up = hpa.spec.behavior?.scaleUp;
    const down = hpa.spec.behavior?.scaleDown;
    expect(up?.stabilizationWindowSeconds, `scaleUp ${show(up)}`).toBeLessThanOrEqual(30);
    expect(down?.stabilizationWindowSeconds, `scaleDown ${show(down)}`).toBeGreaterThanOrEqual(300);
    expect(down?.policies?.length, `scaleDown policies ${show(down?.policies)}`).toBeGreaterThan(0);
    expect(hpa.spec.minReplicas, `minReplicas ${hpa.spec.minReplicas}`).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.maxReplicas, `maxReplicas ${hpa.spec.maxReplicas}`).toBeGreaterThan(hpa.spec.minReplicas);
    expect(deployment.spec.replicas, "spec.replicas would fight the HPA on every apply").toBeUndefined();
  });

  it("limits voluntary disruptions of the Deployment's pods with a PodDisruptionBudget", () => {
    const labels = deployment.spec.template.metadata.labels ?? {};
    const match = pdb.spec.selector?.matchLabels ?? {};
    const mismatched = Object.entries(match).filter(([k, v]) => labels[k] !== v);
    expect(Object.keys(match).length, "the PDB has a selector").toBeGreaterThan(0);
    expect(mismatched, `PDB selector ${show(match)} vs pod labels ${show(labels)}`).toEqual([]);
    const budget = pdb.spec.maxUnavailable ?? pdb.spec.minAvailable;
    expect(budget, `PDB spec ${show(pdb.spec)}`).toBeDefined();
    if (pdb.spec.maxUnavailable !== undefined) expect(pdb.spec.maxUnavailable, "maxUnavailable").toBe(1);
  });
});

describe("docker-compose.yml agrees with Herald's configuration", () => {
  it("runs three Herald replicas built from the Dockerfile", () => {
    expect(
      heraldServices.map(([name]) => name),
      "services with a build",
    ).toHaveLength(3);
    for (const [name, s] of heraldServices) {
      const context = typeof s.build === "string" ? s.build : s.build.context;
      expect(context, `${name}.build ${show(s.build)}`).toBe(".");
    }
  });

  it("uses only environment variables that Herald reads, with production on Redis", () => {
    for (const [name, s] of heraldServices) {
      const env = s.environment ?? {};
      expect(Array.isArray(env), `${name}.environment should be a map`).toBe(false);
      const unknown = Object.keys(env).filter((n) => !CONFIG_VARIABLES.includes(n));
      expect(unknown, `${name}: not Herald variables: ${show(unknown)}`).toEqual([]);
      const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolate(v, VALID_SECRETS)]));
      const config = loadConfig(resolved);
      expect(config.production, `${name}: NODE_ENV ${show(env.NODE_ENV)}`).toBe(true);
      expect(config.storeUrl, `${name}: HERALD_STORE_URL`).toMatch(/^redis:\/\/redis:\d+$/);
      expect(config.port, `${name}: PORT ${show(env.PORT)} vs Herald's default`).toBe(defaults.port);
    }
  });

  it("requires the API keys and token secret from the environment instead of shipping values", () => {
    for (const [name, s] of heraldServices) {
      for (const key of ["HERALD_API_KEYS", "HERALD_TOKEN_SECRET"]) {
        expect(String(s.environment?.[key]), `${name}.${key}`).toMatch(new RegExp(`^\\$\\{${key}:\\?.+\\}$`));
      }
    }
  });

  it("stops each replica with a grace period longer than Herald's drain", () => {
    for (const [name, s] of heraldServices) {
      const grace = durationMs(s.stop_grace_period ?? "10s", "s");
      const drain = Number(s.environment?.HERALD_SHUTDOWN_TIMEOUT_MS ?? defaults.shutdownTimeoutMs);
      expect(grace, `${name}: stop_grace_period ${show(s.stop_grace_period)} vs drain ${drain} ms`).toBeGreaterThan(drain);
    }
  });

  it("health-checks each replica on /readyz or /livez at its PORT", () => {
    for (const [name, s] of heraldServices) {
      const test = [s.healthcheck?.test ?? []].flat().join(" ");
      const port = Number(s.environment?.PORT ?? defaults.port);
      expect(test, `${name}.healthcheck.test`).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}/(readyz|livez)\\b`));
    }
  });

  it("runs Redis with AOF on", () => {
    const command = [compose.services.redis?.command ?? []].flat().join(" ");
    expect(String(compose.services.redis?.image), "redis image").toMatch(/^redis:7/);
    expect(command, "redis command").toMatch(/--appendonly yes/);
    expect(command, "redis command").toMatch(/--appendfsync (everysec|always)/);
  });

  it("puts HAProxy 2.6 in front, with the repository's config, on port 8080", () => {
    expect(haproxyService, "a service on the haproxy image").toBeDefined();
    expect(haproxyService.image, "HAProxy image").toBe("haproxy:2.6");
    const mounts = (haproxyService.volumes ?? []).map(String);
    expect(
      mounts.some((m: string) => m.startsWith("./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg")),
      show(mounts),
    ).toBe(true);
    expect((haproxyService.ports ?? []).map(String), "published ports").toContain("8080:8080");
    expect(String(haproxyService.environment?.LB_PORT ?? "8080"), "LB_PORT").toBe("8080");
  });

  it("lists every Herald replica, at Herald's port, as an HAProxy server", () => {
    const env = haproxyService.environment ?? {};
    const servers = Object.entries(env)
      .filter(([k]) => /^LB_SERVER_\d+$/.test(k))
      .map(([, v]) => String(v))
      .sort();
    const expected = heraldServices.map(([name, s]) => `${name}:${s.environment?.PORT ?? defaults.port}`).sort();
    expect(servers, `HAProxy servers ${show(servers)} vs Herald services ${show(expected)}`).toEqual(expected);
  });
});

describe("the HAProxy config agrees with Herald's configuration", () => {
  const keepAliveSources = [
    ["the default", defaults.keepAliveTimeoutMs],
    ["the ConfigMap", Number(configMap.data?.HERALD_KEEPALIVE_TIMEOUT_MS ?? defaults.keepAliveTimeoutMs)],
    ...heraldServices.map(([name, s]) => [name, Number(s.environment?.HERALD_KEEPALIVE_TIMEOUT_MS ?? defaults.keepAliveTimeoutMs)]),
  ] as [string, number][];

  it("closes idle connections before Herald does (idle timeouts below HERALD_KEEPALIVE_TIMEOUT_MS)", () => {
    const timeouts = haproxyTimeouts();
    const cfg = haproxyConfig();
    const purge = /pool-purge-delay\s+(\S+)/.exec(cfg);
    const idle: Record<string, number | undefined> = {
      "timeout http-keep-alive": timeouts["http-keep-alive"],
      "timeout client": timeouts.client,
      "timeout server": timeouts.server,
      "pool-purge-delay": purge ? durationMs(purge[1]!, "ms") : 5000,
    };
    for (const [what, ms] of Object.entries(idle)) {
      expect(ms, `${what} is not set`).toBeDefined();
      for (const [source, keepAlive] of keepAliveSources) {
        expect(ms, `${what} = ${ms} ms vs HERALD_KEEPALIVE_TIMEOUT_MS ${keepAlive} ms (${source})`).toBeLessThan(keepAlive);
      }
    }
  });

  it("balances round robin without stickiness and health-checks /readyz", () => {
    const cfg = haproxyConfig();
    expect(cfg, "balance").toMatch(/^\s*balance\s+roundrobin\b/m);
    expect(cfg, "no cookie or stick-table persistence").not.toMatch(/^\s*(cookie|stick-table|stick on|balance\s+source)\b/m);
    expect(cfg, "health check").toMatch(/^\s*option\s+httpchk\s+GET\s+\/readyz\s+HTTP\/1\.1\s*$/m);
    // Herald builds request URLs from Host; HAProxy's default HTTP/1.0 check without Host gets 400.
    expect(cfg, "health check Host header").toMatch(/^\s*http-check\s+send\s+.*\bhdr\s+Host\s+\S+/m);
    expect(cfg, "health check expectation").toMatch(/^\s*http-check\s+expect\s+status\s+200\s*$/m);
    expect(cfg, "retries").toMatch(/^\s*retries\s+[1-9]/m);
    expect(cfg, "redispatch").toMatch(/^\s*option\s+redispatch\b/m);
    expect(cfg, "POSTs are not replayed by the load balancer").toMatch(/^\s*http-request\s+disable-l7-retry\s+unless\s+idempotent_method/m);
  });

  it("offers enough server slots for the local cluster", () => {
    expect(haproxySlots(HAPROXY_CFG), "LB_SERVER_n slots").toBeGreaterThanOrEqual(3);
  });

  it("passes `haproxy -c` with the local cluster's servers", () => {
    const env = haproxyEnvironment({ ports: [3001, 3002, 3003], lbPort: 8080, statsPort: 8404 });
    const result = runHaproxyCheck(env);
    expect(result.status, `haproxy -c with ${show(env)}:\n${result.stdout}${result.stderr}`).toBe(0);
  });

  it("passes `haproxy -c` with docker-compose's environment for HAProxy", () => {
    const env = Object.fromEntries(Object.entries(haproxyService.environment ?? {}).map(([k, v]) => [k, String(v)]));
    const result = runHaproxyCheck(env);
    expect(result.status, `haproxy -c with ${show(env)}:\n${result.stdout}${result.stderr}`).toBe(0);
  });

  it("fails `haproxy -c` with a clear message when no server is given", () => {
    const result = runHaproxyCheck({});
    expect(result.status, `haproxy -c without LB_SERVER_1 passed:\n${result.stdout}${result.stderr}`).not.toBe(0);
    expect(result.stderr, "the message names LB_SERVER_1").toMatch(/LB_SERVER_1/);
  });
});

describe("the Dockerfile builds the image Herald expects", () => {
  const dockerfile = read("Dockerfile");
  const instructions = dockerfile
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const args = Object.fromEntries(
    instructions.flatMap((l) => {
      const m = /^ARG\s+(\w+)=(\S+)/.exec(l);
      return m ? [[m[1]!, m[2]!]] : [];
    }),
  );
  const stages = instructions.filter((l) => /^FROM\s/i.test(l));

  it("builds every stage on an official Node 24 slim image", () => {
    expect(stages.length, `FROM lines ${show(stages)}`).toBeGreaterThanOrEqual(2);
    for (const from of stages) {
      const image = from.split(/\s+/)[1]!.replace(/^\$\{(\w+)\}$/, (_, name: string) => args[name] ?? "");
      expect(image, `${from} resolves to ${show(image)}`).toMatch(/^node:24(\.[\d.]+)?-(bookworm-|trixie-)?slim$/);
    }
  });

  it("installs production dependencies only, with npm ci", () => {
    expect(
      instructions.some((l) => /^RUN\s.*\bnpm ci\b.*--omit=dev\b/.test(l)),
      "no RUN npm ci --omit=dev",
    ).toBe(true);
  });

  it("runs as a non-root user", () => {
    const users = instructions.filter((l) => l.startsWith("USER "));
    const last = users.at(-1)?.split(/\s+/)[1];
    expect(last, `USER instructions ${show(users)}`).toBeDefined();
    expect(["root", "0", "0:0"], `final USER ${show(last)}`).not.toContain(last);
  });

  it("health-checks /livez on Herald's port without curl", () => {
    const hc = instructions.find((l) => l.startsWith("HEALTHCHECK "));
    expect(hc, "no HEALTHCHECK").toBeDefined();
    expect(hc, "HEALTHCHECK path").toMatch(/\/livez\b/);
    expect(hc, "HEALTHCHECK uses node's fetch").toMatch(/\bnode\b.*\bfetch\(/);
    expect(hc, "HEALTHCHECK port").toMatch(new RegExp(`PORT\\|\\|${defaults.port}\\b|:${defaults.port}/`));
  });

  it("starts Herald like `npm start`, in production, exposing PORT", () => {
    const pkg = JSON.parse(read("package.json"));
    const cmd = instructions.find((l) => l.startsWith("CMD "));
    expect(cmd && JSON.parse(cmd.slice(4)).join(" "), `CMD vs npm start ${show(pkg.scripts.start)}`).toBe(pkg.scripts.start);
    expect(
      instructions.some((l) => /^ENV\s.*\bNODE_ENV=production\b/.test(l)),
      "ENV NODE_ENV=production",
    ).toBe(true);
    const exposed = instructions.filter((l) => l.startsWith("EXPOSE ")).map((l) => l.split(/\s+/)[1]);
    expect(exposed, "EXPOSE").toEqual([String(defaults.port)]);
    const envPort = /^ENV\s.*\bPORT=(\d+)/m.exec(instructions.join("\n"));
    if (envPort) expect(Number(envPort[1]), "ENV PORT").toBe(defaults.port);
  });

  it("keeps local state, tests and secrets out of the build context", () => {
    const ignored = read(".dockerignore")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    const missing = ["node_modules", "data", ".git", "test", ".env"].filter((p) => !ignored.includes(p));
    expect(missing, `.dockerignore lacks ${show(missing)}`).toEqual([]);
    const copied = instructions.filter((l) => l.startsWith("COPY ") && !l.includes("--from="));
    const excluded = copied.filter((l) => ignored.some((p) => l.split(/\s+/).slice(1, -1).includes(p)));
    expect(excluded, `COPY of ignored paths ${show(excluded)}`).toEqual([]);
  });
});
