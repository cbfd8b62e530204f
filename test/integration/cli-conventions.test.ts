import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { stringify } from "yaml";
import { stripAnsi } from "../../src/report/colors.js";
import { fakeBin } from "../helpers/bin.js";
import { BIN, cutover, ROOT } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { gitOrigin } from "../helpers/git-origin.js";

const fx = fixture();
const empty = mkdtempSync(path.join(os.tmpdir(), "cutover conventions "));
after(() => {
  fx.cleanup();
  rmSync(empty, { recursive: true, force: true });
});

/** The CLI with exactly this environment on top of PATH and HOME (no NO_COLOR unless given). */
function run(args: string[], env: Record<string, string>, cwd = empty, tty = false) {
  const base = { PATH: process.env.PATH!, HOME: process.env.HOME!, ...env };
  const argv = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(" ");
  // `script` gives the CLI a real terminal on stdout and stderr.
  const r = tty
    ? spawnSync("script", ["-qec", argv, "/dev/null"], { cwd, env: base, encoding: "utf8" })
    : spawnSync(process.execPath, [BIN, ...args], { cwd, env: base, encoding: "utf8" });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

test("--version and -V print the package's version", () => {
  const version = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).version;
  for (const flag of ["--version", "-V"]) {
    const r = run([flag], {});
    assert.equal(r.code, 0);
    assert.equal(r.out, `${version}\n`);
  }
});

test("colour only on a terminal; NO_COLOR turns it off, FORCE_COLOR on (a pipe, a CI log)", () => {
  const ESC = "\x1b[";
  const cases: [Record<string, string>, boolean, boolean][] = [
    [{}, false, false],
    [{ CI: "true" }, false, false],
    [{ FORCE_COLOR: "1" }, false, true],
    [{ FORCE_COLOR: "0" }, false, false],
    [{ FORCE_COLOR: "1", NO_COLOR: "1" }, false, false],
    [{ TERM: "xterm" }, true, true],
    [{ TERM: "xterm", NO_COLOR: "1" }, true, false],
    [{ TERM: "dumb" }, true, false],
  ];
  for (const [env, tty, coloured] of cases) {
    const r = run(["releases"], env, empty, tty);
    assert.equal(r.code, 2, r.out);
    assert.match(stripAnsi(r.out), /error: no cutover\.yaml/);
    assert.equal(
      r.out.includes(ESC),
      coloured,
      `${JSON.stringify(env)} tty=${tty}: ${JSON.stringify(r.out)}`,
    );
  }
});

test("progress into a pipe is plain lines: no colour, no spinner or redraw", async () => {
  const r = run(["-v", "deploy"], { CI: "true" }, fx.app);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /✓ .* upload/);
  assert.ok(!r.out.includes("\x1b") && !r.out.includes("\r"), JSON.stringify(r.out));
});

/** pull and agent follow a git repository: a config of strategy: git next to the fixture's. */
function gitConfig(): string {
  const file = path.join(empty, "git.yaml");
  if (!existsSync(file)) {
    const origin = gitOrigin(path.join(empty, "repo"));
    origin.commit({ "index.php": "<?php echo 1;\n" }, "one");
    const hosts = [{ path: path.join(empty, "git deploy") }];
    writeFileSync(
      file,
      stringify({ strategy: "git", repository: origin.bare, ref: "main", stages: { test: { hosts } } }),
    );
  }
  return file;
}

/** Arguments that make each command do its job here; a new command must be added (and print JSON). */
const ARGS: Record<string, string[]> = {
  init: ["init", "--path", "/srv/app", "-c", path.join(empty, "new.yaml")],
  deploy: ["deploy"],
  "server-config": ["server-config", "nginx", "--fpm", "/run/php/php-fpm.sock"],
  doctor: ["doctor", "--web-config", empty],
  diff: ["diff"],
  rollback: ["rollback"],
  releases: ["releases"],
  history: ["history"],
  log: ["log"],
  unlock: ["unlock"],
  cleanup: ["cleanup"],
  verify: ["verify"],
  adopt: ["adopt"],
  completion: ["completion", "bash"],
  snapshot: ["snapshot", "list"],
  // Needs a blue-green stage behind a balancer (test/e2e/blue-green.test.ts): here its usage error, as JSON.
  "switch-back": ["switch-back"],
  pull: ["-c", gitConfig(), "pull"],
  agent: ["-c", gitConfig(), "agent", "--dry-run"],
};

test("--json works on every command: a JSON document on stdout", async () => {
  const help = await cutover(["--help"], fx.app);
  const commands = [...help.stdout.split("Commands:")[1]!.matchAll(/^ {2}([a-z-]+)/gm)]
    .map((m) => m[1]!)
    .filter((c) => c !== "help");
  assert.deepEqual(commands.sort(), Object.keys(ARGS).sort(), "every command is covered here");
  for (const command of ["deploy", ...commands.filter((c) => c !== "deploy")]) {
    const r = await cutover(["--json", ...ARGS[command]!], command === "init" ? empty : fx.app);
    const expected = command === "doctor" ? [0, 1] : command === "switch-back" ? [2] : [0];
    assert.ok(expected.includes(r.code), `${command}: ${r.stderr}`);
    assert.doesNotThrow(() => JSON.parse(r.stdout), `${command} --json: ${r.stdout}`);
  }
});

test("no ssh on this machine: each SSH host's error says so in one line, no stack trace, nothing written", async () => {
  const bin = fakeBin(path.join(empty, "bin without ssh"), ["ssh"]);
  const deployPath = path.join(empty, "never made");
  fx.writeConfig({}, [{ host: "127.0.0.1", port: 1, path: deployPath, name: "web1" }]);
  try {
    const r = await cutover(["deploy"], fx.app, { PATH: bin });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr.split("\n")[0]!,
      /web1: .*ssh is not installed on this machine \(or not in PATH\): install it/,
    );
    assert.doesNotMatch(r.stderr, /node:events|^\s+at /m);
    assert.ok(!existsSync(deployPath));
  } finally {
    fx.writeConfig();
  }
});

test("exit 4 as --help and the README state it covers records that failed after the switch (a full disk)", () => {
  // finalize.ts / run-tail.ts: a run whose records could not be written after the switch exits 4.
  const help = run(["--help"], {}).out;
  const line = help.split("\n").find((l) => /^\s+4\s/.test(l)) ?? "";
  assert.match(line, /records/, line);
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  assert.match(readme, /`4` the new release is live but a step after the switch failed \([^)]*records/);
});
