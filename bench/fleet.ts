/**
 * Benchmark (run by hand, prints figures): a fleet of HOSTS sshd on 127.0.0.2 … (one shared host
 * key and authorized key, started here on free ports, stopped by PID), one deploy to all of them:
 * first deploy, 1-file incremental, and the incremental again with --parallel. Prints wall time,
 * the deploying process's peak RSS and its CPU time per host (its own, and that of the ssh/rsync
 * children it waited for), and the slowest host's prepare steps from --timings.
 * With PERSIST > 0, two more incremental deploys with `ssh.persist: PERSIST`: one that opens the
 * connections and keeps them, one over the kept connections.
 *   npx tsx bench/fleet.ts [hosts=100] [files=500] [megabytes=4] [parallel=10] [persist=0]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Sshd, sshHost, sshRig } from "../test/helpers/sshd.js";
import { generateApp, writeBenchConfig } from "./gen-app.js";
import { keptConnections } from "./kept-connections.js";
import { withoutExtraCaCerts } from "./plain-env.js";

withoutExtraCaCerts();

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const hosts = Number(process.argv[2] ?? 100);
const files = Number(process.argv[3] ?? 500);
const megabytes = Number(process.argv[4] ?? 4);
const parallel = Number(process.argv[5] ?? 10);
const persist = Number(process.argv[6] ?? 0);
const kept = keptConnections(persist);
const work = mkdtempSync(path.join(os.tmpdir(), "cutover-bench-fleet-"));
const app = path.join(work, "app");
generateApp(app, files, megabytes);

const rig = sshRig();
const servers: Sshd[] = [];
const stopAll = async () => {
  kept.remove();
  await rig.stopAll();
  rmSync(work, { recursive: true, force: true });
};
process.on("SIGINT", () => void stopAll().then(() => process.exit(130)));
const bootStarted = Date.now();
try {
  for (let i = 0; i < hosts; i++) servers.push(await rig.start({ address: `127.0.0.${i + 2}` }));
} catch (error) {
  await stopAll();
  throw error;
}
console.log(`started ${hosts} sshd in ${Date.now() - bootStarted} ms (pids ${servers[0]!.pid}…)`);
/** The fleet's config; `persistSeconds` > 0 keeps each host's connection open for the next run. */
const writeConfig = (persistSeconds: number) =>
  writeBenchConfig(
    app,
    "fleet",
    servers.map((s, i) => sshHost(rig, s, path.join(work, `target-${i}`), { name: `h${i + 1}` })),
    persistSeconds,
  );
writeConfig(0);

interface Usage {
  maxRSS: number;
  userMs: number;
  systemMs: number;
  childrenMs: number;
}
interface Timings {
  steps: { host: string; step: string; ms: number }[];
  phases: { phase: string; ms: number }[];
}

/** One deploy of the fleet; usage comes from bench/usage-hook.cjs on fd 3. */
async function deploy(extra: string[]): Promise<{ ms: number; usage: Usage; timings: Timings }> {
  const started = process.hrtime.bigint();
  const child = spawn(
    process.execPath,
    [
      "--require",
      path.join(root, "bench/usage-hook.cjs"),
      path.join(root, "bin/cutover.js"),
      "--json",
      "deploy",
      "-q",
      "--timings",
      ...extra,
    ],
    { cwd: app, stdio: ["ignore", "pipe", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  let usage = "";
  child.stdout!.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr!.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdio[3]!.on("data", (c: Buffer) => {
    usage += c.toString();
  });
  const code = await new Promise<number | null>((r) => child.on("close", r));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (code !== 0) throw new Error(`deploy failed (exit ${code}): ${stderr.slice(-2000)}`);
  return {
    ms,
    usage: JSON.parse(usage) as Usage,
    timings: (JSON.parse(stdout) as { timings: Timings }).timings,
  };
}

function report(label: string, r: { ms: number; usage: Usage; timings: Timings }): void {
  const perHost = (x: number) => (x / hosts).toFixed(1);
  console.log(
    `${label}: ${(r.ms / 1000).toFixed(2)} s wall; peak RSS ${(r.usage.maxRSS / 1024).toFixed(0)} MiB; CPU per host: ` +
      `cutover ${perHost(r.usage.userMs + r.usage.systemMs)} ms, its ssh/rsync children ${perHost(r.usage.childrenMs)} ms`,
  );
  console.log(`  phases: ${r.timings.phases.map((p) => `${p.phase} ${p.ms} ms`).join("; ")}`);
  const byHost = new Map<string, number>();
  for (const s of r.timings.steps) byHost.set(s.host, (byHost.get(s.host) ?? 0) + s.ms);
  const sorted = [...byHost.values()].sort((a, b) => a - b);
  console.log(
    `  host step time: median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms over ${sorted.length} hosts`,
  );
}

try {
  console.log(
    `app: ${files} files, ~${megabytes} MB; ${hosts} hosts; ${os.cpus().length} cores; node ${process.version}`,
  );
  report("first deploy", await deploy([]));
  writeFileSync(path.join(app, "public/index.php"), "<?php echo 'fleet 1';\n");
  report("1-file incremental", await deploy([]));
  writeFileSync(path.join(app, "public/index.php"), "<?php echo 'fleet 2';\n");
  report(`1-file incremental, --parallel ${parallel}`, await deploy(["--parallel", String(parallel)]));
  if (persist > 0) {
    writeConfig(persist);
    writeFileSync(path.join(app, "public/index.php"), "<?php echo 'fleet 3';\n");
    report(
      `1-file incremental with ssh.persist: ${persist} (opens the connections it keeps)`,
      await deploy([]),
    );
    writeFileSync(path.join(app, "public/index.php"), "<?php echo 'fleet 4';\n");
    report("1-file incremental over the kept connections", await deploy([]));
  }
} finally {
  await stopAll();
}
