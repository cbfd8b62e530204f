import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { SCHEMA_PATH } from "../../src/config/schema-file.js";
import { ROOT } from "../helpers/cli.js";

const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
const work = mkdtempSync(path.join(os.tmpdir(), "cutover package "));
const prefix = path.join(work, "my app");
let installed: string;

before(() => {
  // The tarball a user gets from the registry, installed into an empty project with only the
  // package's runtime dependencies (from the registry, or npm's cache). --ignore-scripts: the build
  // that prepack runs would rewrite dist/ under the other test files running now; setup.sh built it.
  const tarball = execFileSync("npm", ["pack", "--silent", "--ignore-scripts", "--pack-destination", work], {
    cwd: ROOT,
    encoding: "utf8",
  }).trim();
  mkdirSync(prefix);
  execFileSync(
    "npm",
    ["install", "--prefix", prefix, "--omit=dev", "--no-audit", "--no-fund", path.join(work, tarball)],
    { stdio: "pipe", timeout: 240_000 },
  );
  installed = path.join(prefix, "node_modules/.bin/cutover");
});
after(() => rmSync(work, { recursive: true, force: true }));

/** The installed CLI, from the project directory, with a PATH and nothing of this repository. */
function run(args: string[]) {
  const r = spawnSync(installed, args, {
    cwd: prefix,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME!, NO_COLOR: "1" },
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("the packed package holds the CLI, its bundle and the schema, and installs only runtime dependencies", () => {
  const dir = path.join(prefix, "node_modules/cutover");
  assert.deepEqual(readdirSync(dir).sort(), ["README.md", "bin", "dist", "package.json", "schema"]);
  const modules = readdirSync(path.join(prefix, "node_modules")).filter((m) => !m.startsWith("."));
  assert.deepEqual(modules.sort(), ["cutover", ...Object.keys(pkg.dependencies)].sort());
  assert.equal(
    readFileSync(path.join(dir, SCHEMA_PATH), "utf8"),
    readFileSync(path.join(ROOT, SCHEMA_PATH), "utf8"),
  );
});

test("the installed CLI runs --version, init and deploy --dry-run", () => {
  const version = run(["--version"]);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout, `${pkg.version}\n`);

  writeFileSync(path.join(prefix, "index.php"), "<?php echo 'hi';\n");
  const init = run(["init", "--path", "/srv/my app"]);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /detected php/);
  const text = readFileSync(path.join(prefix, "cutover.yaml"), "utf8");
  const reference = /^# yaml-language-server: \$schema=(.+)$/m.exec(text)?.[1];
  assert.equal(
    reference,
    `./node_modules/cutover/${SCHEMA_PATH}`,
    "the project's own copy, right on every clone",
  );
  JSON.parse(readFileSync(path.join(prefix, reference!), "utf8"));

  const dry = run(["--json", "deploy", "--dry-run"]);
  assert.equal(dry.code, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout);
  assert.match(JSON.stringify(plan), /\/srv\/my app\/releases\//);
  const human = run(["deploy", "-n"]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /rsync/);
});
