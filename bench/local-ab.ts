/**
 * Benchmark (run by hand, prints figures): an A/B of two builds on the same 1-file incremental
 * deploy of the generated 5,000-file app to a local target: this build's deploys alternate with
 * OTHER's (another build's bin/cutover.js), each after a `sync`, so both meet the same machine
 * (a VM's speed changes from minute to minute). Medians of the wall time, of the deploying
 * process's CPU time and of its children's (the host's shells, find, cp...), and the fastest run.
 * Each deploy starts once the removal of the release pruned by the one before (keep_releases 3),
 * which outlives its deploy, has ended: it is not counted in either build's time.
 * TARGET: the directory the target is made in (e.g. a tmpfs, to leave the disk out). With `first`,
 * each deploy is a first deploy into an empty target instead.
 *   npx tsx bench/local-ab.ts [runs=21] OTHER [TARGET] [first]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generateApp, writeBenchConfig } from "./gen-app.js";
import { withoutExtraCaCerts } from "./plain-env.js";

withoutExtraCaCerts();

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const runs = Number(process.argv[2] ?? 21);
if (!process.argv[3]) throw new Error("usage: npx tsx bench/local-ab.ts [runs] OTHER [TARGET] [first]");
const firstDeploys = process.argv.slice(4).includes("first");
const builds = { this: path.join(root, "bin/cutover.js"), other: path.resolve(process.argv[3]) };
const work = mkdtempSync(path.join(os.tmpdir(), "cutover-bench-ab-"));
const targetParent = mkdtempSync(
  path.join(process.argv[4] && process.argv[4] !== "first" ? process.argv[4] : work, "cutover-bench-target-"),
);
const app = path.join(work, "app");
generateApp(app);
const target = path.join(targetParent, "target");
writeBenchConfig(app, "bench", [{ name: "local", path: target }]);

interface Run {
  ms: number;
  cpuMs: number;
  childrenMs: number;
}
const results: Record<keyof typeof builds, Run[]> = { this: [], other: [] };

/** The removal of the release the deploy before pruned has ended (it runs after its deploy returns). */
function trashEmpty(): void {
  const trash = path.join(target, ".cutover/trash");
  while (existsSync(trash) && readdirSync(trash).length > 0) spawnSync("sleep", ["0.02"]);
}

/** One deploy of `bin` after a 1-file change; the usage hook reports its CPU time on fd 3. */
function deploy(bin: string, change: string): Run {
  trashEmpty();
  if (firstDeploys) rmSync(target, { recursive: true, force: true });
  writeFileSync(path.join(app, "public/index.php"), `<?php echo ${JSON.stringify(change)};\n`);
  execFileSync("sync");
  const started = process.hrtime.bigint();
  const r = spawnSync(
    process.execPath,
    ["-r", path.join(root, "bench/usage-hook.cjs"), bin, "deploy", "-q"],
    { cwd: app, stdio: ["ignore", "ignore", "pipe", "pipe"] },
  );
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`${bin} deploy failed: ${r.stderr}`);
  const usage = JSON.parse(r.output[3]!.toString()) as {
    userMs: number;
    systemMs: number;
    childrenMs: number;
  };
  return { ms, cpuMs: usage.userMs + usage.systemMs, childrenMs: usage.childrenMs };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `app: 5000 files, ~40 MB; ${os.cpus().length} cores; node ${process.version}; ${runs} ${firstDeploys ? "first deploys" : "runs"} each, alternating`,
);
// The first deploy, and one of each build, are not counted (caches warm, a release to link from).
deploy(builds.this, "first");
for (let i = 0; i <= runs; i++)
  for (const which of ["this", "other"] as const) {
    const run = deploy(builds[which], `${which} ${i}`);
    if (i > 0) results[which].push(run);
  }
for (const which of ["this", "other"] as const) {
  const r = results[which];
  console.log(
    `${which.padEnd(5)} ${builds[which]}: wall ${median(r.map((x) => x.ms)).toFixed(0)} ms (fastest ${Math.min(...r.map((x) => x.ms)).toFixed(0)}), ` +
      `CPU ${median(r.map((x) => x.cpuMs)).toFixed(0)} ms, children ${median(r.map((x) => x.childrenMs)).toFixed(0)} ms`,
  );
}
console.log(`command: npx tsx bench/local-ab.ts ${process.argv.slice(2).join(" ")}`);
rmSync(work, { recursive: true, force: true });
rmSync(targetParent, { recursive: true, force: true });
