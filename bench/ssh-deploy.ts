/**
 * Benchmark (run by hand, prints figures): the generated 5,000-file (~40 MB) app over SSH on loopback
 * to 1, 4 and 16 hosts (one sshd each, own loopback address): first deploy and 1-file incremental
 * deploy, median of RUNS, with switch skew and SSH connections per host per deploy; alternating
 * with them, a bare `rsync -a` of the tree over fresh SSH connections into plain directories (the
 * floor, also with the flush cutover does) to as many hosts at once (this machine's two cores then
 * do every host's work, as they do cutover's); for each host count, the median of each phase and
 * step of the incremental deploy from --timings.
 * With PERSIST > 0 the hosts get `ssh.persist: PERSIST`: each first deploy opens the connections
 * (kept ones are closed before it), the incremental deploy reuses them.
 *   npx tsx bench/ssh-deploy.ts [runs=5] [hostCounts=1,4,16] [persist=0]
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Sshd, sshHost, sshRig, TEST_ROOT } from "../test/helpers/sshd.js";
import { generateApp, writeBenchConfig } from "./gen-app.js";
import { keptConnections } from "./kept-connections.js";
import { withoutExtraCaCerts } from "./plain-env.js";
import { timed } from "./timed.js";

withoutExtraCaCerts();

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const runs = Number(process.argv[2] ?? 5);
const counts = (process.argv[3] ?? "1,4,16").split(",").map(Number);
const persist = Number(process.argv[4] ?? 0);
const kept = keptConnections(persist);
const work = mkdtempSync(path.join(os.tmpdir(), "cutover-bench-ssh-"));
const app = path.join(work, "app");
generateApp(app);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rig = sshRig();
const servers: Sshd[] = [];
for (let i = 0; i < Math.max(...counts); i++) servers.push(await rig.start({ address: `127.0.0.${i + 2}` }));
const accepted = () => servers.reduce((n, s) => n + (s.log().match(/Accepted publickey/g) ?? []).length, 0);

/** A command's wall time; the sshd logs keep being read meanwhile, and 50 ms after it. */
const measure = (args: string[], cwd: string) => timed(args, cwd, 50);

interface Timings {
  phases: { phase: string; ms: number }[];
  steps: { host: string; step: string; ms: number }[];
}

/** Medians over the runs: each phase's wall time, each step's time on its slowest host. */
function printTimings(runs: readonly Timings[]): void {
  const phase = (name: string) =>
    name.replace(/\d{8}T\d{6}Z/, "<id>").replace(/on \d+ hosts?|\d+ hosts?/, "N");
  const phases = [...new Set(runs.flatMap((t) => t.phases.map((p) => phase(p.phase))))];
  const parts = phases.map((name) => {
    const ms = runs.map((t) => t.phases.filter((p) => phase(p.phase) === name).reduce((a, p) => a + p.ms, 0));
    return `${name} ${median(ms)}`;
  });
  console.log(`    phases (ms): ${parts.join("; ")}`);
  const steps = [...new Set(runs.flatMap((t) => t.steps.map((s) => s.step)))];
  const slowest = steps.map((name) => {
    const ms = runs.map((t) => Math.max(0, ...t.steps.filter((s) => s.step === name).map((s) => s.ms)));
    return `${name} ${median(ms)}`;
  });
  console.log(`    steps, slowest host (ms): ${slowest.join("; ")}`);
}

/** ssh as rsync -e takes it, to one of the servers. */
const sshCmd = (s: Sshd) =>
  `ssh -o BatchMode=yes -o UserKnownHostsFile=${rig.knownHosts} -i '${rig.clientKey}' -p ${s.port}`;

/**
 * The floor: bare `rsync -a` of the tree over fresh SSH connections to the first n servers at once,
 * wall time of all: `first` into empty directories (`flushed` adds a `sync -f` of each copy, which
 * cutover does before a release may be switched to; the hosts are this machine), then
 * `incremental`, a 1-file change into those copies.
 */
function bareRsync(n: number) {
  const dests = servers.slice(0, n).map((s, i) => ({ s, dest: `/tmp/cutover-bench-bare-${i}` }));
  const all = async () => {
    settle();
    const started = process.hrtime.bigint();
    await Promise.all(
      dests.map(({ s, dest }) =>
        measure(["rsync", "-a", "-e", sshCmd(s), `${app}/`, `${TEST_ROOT}@${s.address}:${dest}/`], app),
      ),
    );
    return Number(process.hrtime.bigint() - started) / 1e6 - 50;
  };
  const remove = () => {
    for (const { dest } of dests) rmSync(dest, { recursive: true, force: true });
  };
  return {
    async first() {
      remove();
      const ms = await all();
      return { ms, flushed: ms + (await timed(["sync", "-f", ...dests.map((d) => d.dest)], app)).ms };
    },
    async incremental() {
      const ms = await all();
      remove();
      return ms;
    },
  };
}

/** Writes what is still on its way to disk before a measured command starts. */
const settle = () => execFileSync("sync");

console.log(
  `app: 5000 files, ~40 MB; ${os.cpus().length} cores; node ${process.version}; ${runs} runs, medians`,
);

// Runs alternate (bare first, cutover first, one file changed, bare incremental, cutover
// incremental), each after a `sync`, so neither pays for the other's writes still on their way to disk.
for (const n of counts) {
  const first: number[] = [];
  const incremental: number[] = [];
  const skew: number[] = [];
  const perHost: number[] = [];
  const timings: Timings[] = [];
  const floor = { first: [] as number[], flushed: [] as number[], incremental: [] as number[] };
  for (let run = 0; run < runs; run++) {
    const bare = bareRsync(n);
    const copied = await bare.first();
    floor.first.push(copied.ms);
    floor.flushed.push(copied.flushed);
    const targets = servers
      .slice(0, n)
      .map((s, i) => sshHost(rig, s, path.join(work, `t${n}-${run}-${i}`), { name: `h${i + 1}` }));
    writeBenchConfig(app, "bench", targets, persist);
    kept.close();
    settle();
    first.push(
      (await measure([process.execPath, path.join(root, "bin/cutover.js"), "deploy", "-q", "--json"], app))
        .ms,
    );
    writeFileSync(path.join(app, "public/index.php"), `<?php echo 'v${n}-${run}';\n`);
    floor.incremental.push(await bare.incremental());
    const before = accepted();
    settle();
    const inc = await measure(
      [process.execPath, path.join(root, "bin/cutover.js"), "deploy", "-q", "--json", "--timings"],
      app,
    );
    incremental.push(inc.ms);
    perHost.push((accepted() - before) / n);
    const result = JSON.parse(inc.stdout) as { switchSkewMs: number; timings: Timings };
    skew.push(result.switchSkewMs);
    timings.push(result.timings);
    for (let i = 0; i < n; i++)
      rmSync(path.join(work, `t${n}-${run}-${i}`), { recursive: true, force: true });
  }
  const ratio = (a: number[], b: number[]) => `${(median(a) / median(b)).toFixed(2)}×`;
  console.log(
    `${String(n).padStart(2)} host${n === 1 ? " " : "s"}: first ${median(first).toFixed(0)} ms, 1-file incremental ${median(incremental).toFixed(0)} ms, ` +
      `switch skew ${median(skew)} ms, SSH connections per host per deploy ${median(perHost)}`,
  );
  console.log(
    `    bare rsync -a over ssh to ${n === 1 ? "it" : `${n} hosts at once`}: first ${median(floor.first).toFixed(0)} ms ` +
      `(then sync -f: ${median(floor.flushed).toFixed(0)} ms), 1-file incremental ${median(floor.incremental).toFixed(0)} ms; ` +
      `cutover / bare: first ${ratio(first, floor.first)} (${ratio(first, floor.flushed)} with the flush), incremental ${ratio(incremental, floor.incremental)}`,
  );
  printTimings(timings);
}
kept.remove();
await rig.stopAll();
rmSync(work, { recursive: true, force: true });
