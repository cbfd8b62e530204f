/**
 * Benchmark (run by hand, prints figures): deploy a generated 5,000-file (~40 MB) app to a local
 * target. First deploy and 1-changed-file incremental deploy, 5 runs each: median wall time, peak
 * RSS of the cutover process, and the new disk the incremental release costs.
 *   npx tsx bench/local-deploy.ts [files] [megabytes]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generateApp } from "./gen-app.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const files = Number(process.argv[2] ?? 5000);
const megabytes = Number(process.argv[3] ?? 40);
const work = mkdtempSync(path.join(os.tmpdir(), "cutover-bench-"));
const app = path.join(work, "app");
generateApp(app, files, megabytes);

function deployOnce(target: string): { ms: number; rssKiB: number } {
  writeFileSync(
    path.join(app, "cutover.yaml"),
    `exclude: [cutover.yaml]\nshared_files: [.env]\nkeep_releases: 20\nstages:\n  bench:\n    hosts:\n      - path: ${JSON.stringify(target)}\n`,
  );
  const started = process.hrtime.bigint();
  const r = spawnSync(
    process.execPath,
    ["--import", path.join(root, "bench/rss-hook.mjs"), path.join(root, "bin/cutover.js"), "deploy", "-q"],
    {
      cwd: app,
      stdio: ["ignore", "ignore", "pipe", "pipe"],
    },
  );
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`deploy failed: ${r.stderr}`);
  return { ms, rssKiB: Number(String(r.output[3]).trim()) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const first: { ms: number; rssKiB: number }[] = [];
const incremental: { ms: number; rssKiB: number }[] = [];
let newDiskKiB = 0;
for (let run = 0; run < 5; run++) {
  const target = path.join(work, `target-${run}`);
  first.push(deployOnce(target));
  writeFileSync(path.join(app, "public", "index.php"), `<?php echo 'v${run + 1}';\n`);
  incremental.push(deployOnce(target));
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
