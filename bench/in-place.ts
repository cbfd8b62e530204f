/**
 * Benchmark (run by hand, prints figures): the window in which an in-place deploy has files of two
 * builds live side by side, as cutover measures it (change times of what rsync --delay-updates
 * renamed into place), for 1, 10% and 100% of a generated 5,000-file app changed; and the wall time
 * of the same deploy with strategy: releases. Local target, 5 runs each, medians.
 *   npx tsx bench/in-place.ts [files] [megabytes]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
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

interface Run {
  ms: number;
  windowMs: number | null;
  renamed: number | null;
}

function deploy(strategy: string, target: string): Run {
  writeFileSync(
    path.join(app, "cutover.yaml"),
    `strategy: ${strategy}\nexclude: [cutover.yaml]\nshared_files: [.env]\nkeep_builds: 20\nkeep_releases: 20\nstages:\n  bench:\n    hosts:\n      - path: ${JSON.stringify(target)}\n`,
  );
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [path.join(root, "bin/cutover.js"), "deploy", "--json"], {
    cwd: app,
    env: { ...process.env, XDG_CACHE_HOME: path.join(work, "cache") },
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`deploy failed: ${r.stderr}`);
  const w = JSON.parse(r.stdout.toString()).hosts[0].mixedWindow;
  return { ms, windowMs: w?.ms ?? null, renamed: w?.files ?? null };
}

/** Rewrites `share` of the app's files (every n-th), so the next deploy changes exactly those. */
function change(share: number, round: number): number {
  const every = Math.max(1, Math.round(1 / share));
  let n = 0;
  for (let i = 0; i < files; i += every) {
    const file = path.join(app, "src", `m${i % 50}`, `d${i % 7}`, `Class${i}.php`);
    writeFileSync(file, `<?php // round ${round}\nfinal class Class${i} {}\n`);
    n++;
  }
  return n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(`app: ${files} files, ~${megabytes} MB; ${os.cpus().length} cores; node ${process.version}`);
for (const share of [1 / files, 0.1, 1]) {
  for (const strategy of ["in-place", "releases"]) {
    const runs: Run[] = [];
    let changed = 0;
    for (let round = 0; round < 5; round++) {
      const target = path.join(work, `${strategy}-${share}-${round}`);
      deploy(strategy, target);
      changed = change(share, round);
      runs.push(deploy(strategy, target));
    }
    const windows = runs.map((r) => r.windowMs).filter((w): w is number => w !== null);
    console.log(
      `${strategy.padEnd(8)} ${String(changed).padStart(5)} files changed: deploy ${median(runs.map((r) => r.ms)).toFixed(0)} ms` +
        (windows.length > 0
          ? `, mixed window ${median(windows)} ms (max ${Math.max(...windows)} ms), ${median(runs.map((r) => r.renamed ?? 0))} renamed`
          : ", one rename of current"),
    );
  }
}
rmSync(work, { recursive: true, force: true });
