/**
 * Benchmark (run by hand, prints figures): deploy a generated 5,000-file (~40 MB) app to a local
 * target. First deploy and 1-changed-file incremental deploy, 5 runs each: median wall time, peak
 * RSS of the cutover process, and the new disk the incremental release costs; in the same run a bare
 * `rsync -a` of the tree into an empty directory and of a 1-file change into that copy (the floor),
 * and the median of each phase and step from `--timings` (where the incremental time goes).
 *   npx tsx bench/local-deploy.ts [files] [megabytes]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generateApp } from "./gen-app.js";
import { withoutExtraCaCerts } from "./plain-env.js";

withoutExtraCaCerts();

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const files = Number(process.argv[2] ?? 5000);
const megabytes = Number(process.argv[3] ?? 40);
const work = mkdtempSync(path.join(os.tmpdir(), "cutover-bench-"));
const app = path.join(work, "app");
generateApp(app, files, megabytes);

interface Timings {
  phases: { phase: string; ms: number }[];
  steps: { step: string; ms: number }[];
}
const timings: Timings[] = [];

function deployOnce(target: string, keepTimings = false): { ms: number; rssKiB: number } {
  writeFileSync(
    path.join(app, "cutover.yaml"),
    `exclude: [cutover.yaml]\nshared_files: [.env]\nkeep_releases: 20\nstages:\n  bench:\n    hosts:\n      - path: ${JSON.stringify(target)}\n`,
  );
  const started = process.hrtime.bigint();
  const r = spawnSync(
    process.execPath,
    [
      "--require",
      path.join(root, "bench/rss-hook.cjs"),
      path.join(root, "bin/cutover.js"),
      "--json",
      "deploy",
      "-q",
      "--timings",
    ],
    {
      cwd: app,
      stdio: ["ignore", "pipe", "pipe", "pipe"],
    },
  );
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`deploy failed: ${r.stderr}`);
  if (keepTimings) timings.push((JSON.parse(String(r.stdout)) as { timings: Timings }).timings);
  return { ms, rssKiB: Number(String(r.output[3]).trim()) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Wall time of a command run to completion. */
function wall(args: string[]): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(args[0]!, args.slice(1), { stdio: "ignore" });
  if (r.status !== 0) throw new Error(`${args.join(" ")} failed`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}
const bare = { first: [] as number[], flushed: [] as number[], incremental: [] as number[] };

const first: { ms: number; rssKiB: number }[] = [];
const incremental: { ms: number; rssKiB: number }[] = [];
let newDiskKiB = 0;
for (let run = 0; run < 5; run++) {
  const target = path.join(work, `target-${run}`);
  const copy = path.join(work, `bare-${run}`);
  bare.first.push(wall(["rsync", "-a", `${app}/`, `${copy}/`]));
  // cutover flushes a release to disk before it may be switched to (mark ready); the floor with that.
  bare.flushed.push(bare.first.at(-1)! + wall(["sync", "-f", copy]));
  first.push(deployOnce(target));
  writeFileSync(path.join(app, "public", "index.php"), `<?php echo 'v${run + 1}';\n`);
  bare.incremental.push(wall(["rsync", "-a", `${app}/`, `${copy}/`]));
  incremental.push(deployOnce(target, true));
  rmSync(copy, { recursive: true, force: true });
  const releases = readdirSync(path.join(target, "releases")).sort();
  const du = execFileSync("du", ["-sk", ...releases.map((r) => path.join(target, "releases", r))])
    .toString()
    .trim()
    .split("\n");
  newDiskKiB = Number(du.at(-1)!.split("\t")[0]);
}
rmSync(work, { recursive: true, force: true });

console.log(`app: ${files} files, ~${megabytes} MB; ${os.cpus().length} cores; node ${process.version}`);
console.log(
  `first deploy:       median ${median(first.map((r) => r.ms)).toFixed(0)} ms, peak RSS ${median(first.map((r) => r.rssKiB))} KiB`,
);
console.log(
  `incremental deploy: median ${median(incremental.map((r) => r.ms)).toFixed(0)} ms, peak RSS ${median(incremental.map((r) => r.rssKiB))} KiB`,
);
console.log(`new disk for the incremental release: ${newDiskKiB} KiB (du, hard links counted once)`);
const bareFirst = median(bare.first);
const bareIncremental = median(bare.incremental);
console.log(
  `bare rsync -a: into an empty directory ${bareFirst.toFixed(0)} ms (then sync -f: ${median(bare.flushed).toFixed(0)} ms), 1 changed file ${bareIncremental.toFixed(0)} ms; ` +
    `cutover / bare: first ${(median(first.map((r) => r.ms)) / bareFirst).toFixed(2)}× (${(median(first.map((r) => r.ms)) / median(bare.flushed)).toFixed(2)}× with the flush), incremental ${(median(incremental.map((r) => r.ms)) / bareIncremental).toFixed(2)}×`,
);
console.log("incremental deploy, medians from --timings:");
for (const key of ["phases", "steps"] as const) {
  const label = (x: { phase: string } | { step: string }) =>
    ("phase" in x ? x.phase : x.step).replace(/\d{8}T\d{6}Z/, "<id>");
  for (const name of new Set(timings.flatMap((t) => t[key].map(label)))) {
    const ms = timings.map((t) => t[key].filter((x) => label(x) === name).reduce((a, x) => a + x.ms, 0));
    console.log(`  ${key === "phases" ? "phase" : "step "} ${name.padEnd(44)} ${median(ms)} ms`);
  }
}
