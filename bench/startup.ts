/**
 * Benchmark (run by hand, prints figures): cutover's start-up. Medians (and the spread) of the wall
 * time of `cutover --version`, `--help` and `deploy --dry-run`, and of a local 1-file deploy's
 * start-up: the `--timings` phase "start: node, cutover, config" and the time from the process's
 * start to its first child process (the host's shell). Each with V8's code cache (warm, in a cache
 * directory of the benchmark's own) and without (XDG_CACHE_HOME unusable), runs alternating; and
 * `node` running an empty script, the floor.
 *   npx tsx bench/startup.ts [runs] [files]
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
const bin = path.join(root, "bin/cutover.js");
const runs = Number(process.argv[2] ?? 15);
const files = Number(process.argv[3] ?? 1000);
const work = mkdtempSync(path.join(os.tmpdir(), "cutover-startup-"));
const app = path.join(work, "app");
generateApp(app, files, Math.max(1, Math.round(files / 250)));
writeFileSync(
  path.join(app, "cutover.yaml"),
  `exclude: [cutover.yaml]\nshared_files: [.env]\nkeep_releases: 3\nstages:\n  bench:\n    hosts:\n      - path: ${JSON.stringify(path.join(work, "target"))}\n`,
);
const empty = path.join(work, "empty.mjs");
writeFileSync(empty, "");

const modes = {
  "code cache": { XDG_CACHE_HOME: path.join(work, "cache") },
  "no cache": { XDG_CACHE_HOME: "/dev/null" },
};
type Mode = keyof typeof modes;

/** Wall time (ms) of one run, its stdout, and what the first-spawn hook wrote on fd 3. */
function run(args: string[], env: Record<string, string>) {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, {
    cwd: app,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe", "pipe"],
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(" ")} failed: ${r.stderr}`);
  return { ms, stdout: String(r.stdout), fd3: String(r.output[3] ?? "") };
}

const figures = new Map<string, number[]>();
const add = (name: string, ms: number) => figures.set(name, [...(figures.get(name) ?? []), ms]);
const hook = path.join(root, "bench/first-spawn-hook.cjs");

// One run of each kind first, so the code cache holds what each kind of run compiles.
run([bin, "--version"], modes["code cache"]);
run(["--require", hook, bin, "deploy", "-q"], modes["code cache"]);
for (let i = 0; i < runs; i++) {
  add("node (empty script)", run([empty], {}).ms);
  for (const mode of Object.keys(modes) as Mode[]) {
    const env = modes[mode];
    add(`${mode}: cutover --version`, run([bin, "--version"], env).ms);
    add(`${mode}: cutover --help`, run([bin, "--help"], env).ms);
    add(`${mode}: cutover deploy --dry-run`, run([bin, "deploy", "--dry-run"], env).ms);
    writeFileSync(path.join(app, "public", "index.php"), `<?php echo '${mode} ${i}';\n`);
    const deploy = run(["--require", hook, bin, "--json", "deploy", "-q", "--timings"], env);
    const phases = (JSON.parse(deploy.stdout) as { timings: { phases: { phase: string; ms: number }[] } })
      .timings.phases;
    add(`${mode}: deploy, phase "start: node, cutover, config"`, phases[0]!.ms);
    add(`${mode}: deploy, process start to first host command`, Number(deploy.fd3.trim()));
    add(`${mode}: deploy, whole`, deploy.ms);
  }
}
rmSync(work, { recursive: true, force: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`npx tsx bench/startup.ts ${runs} ${files}`);
console.log(
  `${os.cpus().length} cores, node ${process.version}, load average ${os.loadavg()[0]!.toFixed(2)} at the end; ${runs} runs each, a ${files}-file app deployed to a local path`,
);
console.log(`${"".padEnd(62)} median   (min–max) ms`);
for (const [name, xs] of figures)
  console.log(
    `  ${name.padEnd(60)} ${median(xs).toFixed(0).padStart(6)}   (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`,
  );
