import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { ROOT } from "../helpers/cli.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "cutover setup "));
after(() => rmSync(dir, { recursive: true, force: true }));

test("setup.sh leaves a node_modules linked from another checkout alone: npm ci would empty it there", () => {
  const project = path.join(dir, "clone");
  const shared = path.join(dir, "other checkout", "node_modules");
  mkdirSync(path.join(project, "scripts"), { recursive: true });
  mkdirSync(shared, { recursive: true });
  copyFileSync(path.join(ROOT, "scripts", "setup.sh"), path.join(project, "scripts", "setup.sh"));
  writeFileSync(path.join(shared, ".package-lock.json"), "{}");
  utimesSync(path.join(shared, ".package-lock.json"), 1, 1); // older than the fresh clone's lock file
  writeFileSync(path.join(project, "package-lock.json"), "{}");
  symlinkSync(shared, path.join(project, "node_modules"));
  // npm logs its calls; apt-get refuses, so a machine missing packages fails here instead of installing.
  const bin = path.join(dir, "bin");
  const calls = path.join(dir, "npm calls");
  mkdirSync(bin);
  writeFileSync(path.join(bin, "npm"), `#!/bin/sh\necho "$*" >> '${calls}'\n`, { mode: 0o755 });
  writeFileSync(path.join(bin, "apt-get"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
  const r = spawnSync("bash", [path.join(project, "scripts", "setup.sh")], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  const npm = readFileSync(calls, "utf8");
  assert.doesNotMatch(npm, /^ci\b/m, "npm ci ran on the linked node_modules");
  assert.match(npm, /^run --silent build$/m);
  assert.match(r.stderr, /node_modules is a link/);
});
