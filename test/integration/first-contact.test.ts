import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { stringify } from "yaml";
import { cutover, cutoverSync, json, ROOT } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { gitOrigin } from "../helpers/git-origin.js";

// What a newcomer meets on first contact: every error is one line (no stack), says where, and what to do.
const dir = mkdtempSync(path.join(os.tmpdir(), "cutover first contact ü "));
const fx = fixture();
after(() => {
  rmSync(dir, { recursive: true, force: true });
  fx.cleanup();
});

test("init -c into a directory that does not exist: a one-line error naming it, exit 2, no stack", async () => {
  const file = path.join(dir, "no such dir", "cutover.yaml");
  const r = await cutover(["init", "-c", file], dir);
  assert.equal(r.code, 2, r.stderr);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  assert.match(r.stderr.split("\n")[0]!, /^error: .*no such dir/);
  assert.match(r.stderr, /fix: /);
  assert.equal(existsSync(file), false);
});

test("diff after a rollback to the oldest release says why there is nothing to compare, not that two are needed", async () => {
  for (let i = 0; i < 2; i++) {
    fx.file("src/lib.php", `<?php function version() { return 'v${i}'; }\n`);
    assert.equal((await cutover(["deploy"], fx.app)).code, 0);
  }
  assert.equal((await cutover(["rollback"], fx.app)).code, 0);
  const rows = json<{ id: string; hosts: Record<string, { live: boolean }> }[]>(
    await cutover(["releases", "--json"], fx.app),
  );
  const live = rows.find((row) => row.hosts.local?.live)?.id;
  assert.ok(live);
  const r = await cutover(["diff"], fx.app);
  assert.notEqual(r.code, 0);
  assert.doesNotMatch(r.stderr, /need two releases/, "two releases are there");
  assert.match(r.stderr.split("\n")[0]!, new RegExp(`no good release before the live one \\(${live}\\)`));
});

test("rollback's summary reads as a sentence: 'rolled back 1 host to ID'", async () => {
  assert.equal((await cutover(["deploy"], fx.app)).code, 0);
  const r = await cutover(["rollback"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.split("\n")[0]!, /^✓ rolled back 1 host to \d{8}T\d{6}Z in [\d.]+ s$/);
});

test("rollback's progress names the switch phase once", async () => {
  assert.equal((await cutover(["deploy"], fx.app)).code, 0);
  const r = await cutover(["rollback"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const phases = r.stderr.split("\n").filter((l) => l.startsWith("▸ switch"));
  assert.equal(phases.length, 1, r.stderr);
});

test("--json with a mistyped option or command still prints a JSON document (exit 2) for the script reading it", async () => {
  for (const args of [
    ["--json", "deploy", "--bogus"],
    ["deploy", "--json", "--hosts"],
    ["--json", "depoly"],
  ]) {
    const r = await cutover(args, fx.app);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    const doc = JSON.parse(r.stdout || "null") as {
      ok: boolean;
      error: { code: string; message: string };
    } | null;
    assert.equal(doc?.ok, false, `${args.join(" ")}: stdout ${JSON.stringify(r.stdout)}`);
    assert.equal(doc?.error.code, "usage");
    assert.match(r.stderr, new RegExp(doc!.error.message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
  }
});

test("init -c names the default deploy path after the app it configures (the config's directory), not the cwd", async () => {
  const app = path.join(dir, "shop");
  mkdirSync(app);
  const r = await cutover(["init", "-c", path.join(app, "cutover.yaml")], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(path.join(app, "cutover.yaml"), "utf8"), /path: "?\/var\/www\/shop"?\n/);
});

test("--hosts with no names (an empty $HOSTS in a script) is a usage error, not every host", async () => {
  const count = async () => json<unknown[]>(await cutover(["releases", "--json"], fx.app)).length;
  const before = await count();
  for (const hosts of ["", " , "]) {
    const r = await cutover(["deploy", "--hosts", hosts], fx.app);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr.split("\n")[0]!, /^error: --hosts: no host names given/);
  }
  assert.equal(await count(), before, "nothing was deployed");
});

test("diff --help says what the default compares as the README does: the previous good release → the live one", async () => {
  const r = await cutover(["diff", "--help"], dir);
  assert.equal(r.code, 0);
  assert.match(r.stdout.replace(/\s+/g, " "), /default: previous good → live/);
});

test("diff FROM TO and diff FROM with one stage: the stage name can be left out, as the README says", async () => {
  for (let i = 0; i < 2; i++) {
    fx.file("src/lib.php", `<?php function version() { return 'd${i}'; }\n`);
    assert.equal((await cutover(["deploy"], fx.app)).code, 0);
  }
  const ids = json<{ id: string }[]>(await cutover(["releases", "--json"], fx.app))
    .map((row) => row.id)
    .sort();
  const [from, to] = ids.slice(-2) as [string, string];
  const both = await cutover(["diff", from, to], fx.app);
  assert.equal(both.code, 0, both.stderr);
  assert.match(both.stdout, new RegExp(`^local: ${from} → ${to}\\n.*src/lib\\.php`, "s"));
  const one = await cutover(["diff", from], fx.app);
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, new RegExp(`^local: ${from} → ${to}`));
});

test("diff FROM TO with several stages: the error says the stage name goes before FROM TO", async () => {
  const config = path.join(dir, "two stages.yaml");
  writeFileSync(
    config,
    stringify({
      source: fx.app,
      stages: { staging: { hosts: [{ path: "/srv/a" }] }, live: { hosts: [{ path: "/srv/b" }] } },
    }),
  );
  const r = await cutover(["-c", config, "diff", "20261127T101500Z", "20261128T101500Z"], dir);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr.split("\n")[0]!, /no stage "20261127T101500Z" \(stages: staging, live\)/);
  assert.match(r.stderr, /fix: .*stage name before FROM TO.*cutover diff staging 20261127T101500Z/);
});

test("doctor --web-config with a path that does not exist or cannot be read: a usage error naming it, before any host is asked", async () => {
  const missing = path.join(dir, "nonexist.conf");
  const unreadable = path.join(dir, "unreadable.conf");
  writeFileSync(unreadable, "server {}\n", { mode: 0o000 });
  const cases = process.getuid?.() === 0 ? [missing] : [missing, unreadable];
  for (const given of cases) {
    for (const args of [["doctor"], ["--json", "doctor"]]) {
      const r = await cutover([...args, "--web-config", `${fx.app},${given}`], fx.app);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(
        r.stderr.split("\n")[0]!,
        new RegExp(`^error: --web-config: .*${given.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`),
      );
      assert.match(r.stderr, /\n\s+fix: /);
      assert.doesNotMatch(r.stdout + r.stderr, /no problems found/);
    }
  }
  // An empty list is no list: said about --web-config, not about --hosts.
  const empty = await cutover(["doctor", "--web-config", " , "], fx.app);
  assert.equal(empty.code, 2);
  assert.match(empty.stderr.split("\n")[0]!, /^error: --web-config: no paths given/);
});

test("pull --dry-run when the live release is the ref's commit says there is nothing to do, in words", async () => {
  const origin = gitOrigin(path.join(dir, "pull origin"));
  origin.commit({ "index.php": "<?php echo 1;\n" }, "one");
  const config = path.join(dir, "pull.yaml");
  const hosts = [{ path: path.join(dir, "pull deploy") }];
  writeFileSync(
    config,
    stringify({ strategy: "git", repository: origin.bare, ref: "main", stages: { test: { hosts } } }),
  );
  assert.equal((await cutover(["-c", config, "pull"], dir)).code, 0);
  const r = await cutover(["-c", config, "--dry-run", "pull"], dir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^main is [0-9a-f]{40}; live: [0-9a-f]{40}; up to date, nothing to do\n$/);
  assert.equal(
    json<{ action: string }>(await cutover(["-c", config, "--json", "--dry-run", "pull"], dir)).action,
    "up-to-date",
  );
});

test("a clone that was never built: the bin says to build it in one line, exit 1; any other load error still surfaces", () => {
  const clone = path.join(dir, "unbuilt clone");
  cpSync(path.join(ROOT, "bin"), path.join(clone, "bin"), { recursive: true });
  const bin = path.join(clone, "bin", "cutover.js");
  const unbuilt = spawnSync(process.execPath, [bin, "--help"], { cwd: dir, encoding: "utf8" });
  assert.equal(unbuilt.status, 1, unbuilt.stderr);
  assert.equal(
    unbuilt.stderr,
    `cutover is not built: run bash scripts/setup.sh (or npm run build) in ${clone}\n`,
  );
  assert.equal(unbuilt.stdout, "");
  // A bundle that is there but cannot load (a module of its own missing) is not "not built".
  mkdirSync(path.join(clone, "dist"));
  writeFileSync(path.join(clone, "dist", "cutover.cjs"), 'require("./chunk-gone.cjs");\n');
  const broken = spawnSync(process.execPath, [bin, "--help"], { cwd: dir, encoding: "utf8" });
  assert.equal(broken.status, 1);
  assert.match(broken.stderr, /Cannot find module '\.\/chunk-gone\.cjs'/);
  assert.doesNotMatch(broken.stderr, /not built/);
});

test("run from a subdirectory of the app: the error names the cutover.yaml above instead of suggesting init", async () => {
  const sub = path.join(fx.app, "public");
  const r = await cutover(["releases"], sub);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.split("\n")[0], `error: no cutover.yaml in ${sub}`);
  assert.match(
    r.stderr,
    new RegExp(
      `fix: found \\.\\./cutover\\.yaml \\(${fx.config.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\): run cutover from .*, or pass -c `,
    ),
  );
  assert.doesNotMatch(r.stderr, /cutover init/);
  // Nowhere above: init is still the way.
  const none = await cutover(["releases"], dir);
  assert.match(none.stderr, /fix: run `cutover init` to write one/);
});

test("snapshot prune --dry-run says what it would remove per host, as cleanup --dry-run does, and removes nothing", async () => {
  fx.writeConfig({ snapshots: { keep: 1 } });
  try {
    assert.equal((await cutover(["deploy"], fx.app)).code, 0);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++)
      ids.push(json<{ id: string }[]>(await cutover(["--json", "snapshot", "create"], fx.app))[0]!.id);
    const snapshots = () => json<unknown[]>(cutoverSync(["--json", "snapshot", "list"], fx.app)).length;
    const before = snapshots();
    const r = await cutover(["--dry-run", "snapshot", "prune"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^local: would remove (\\S+, )*${ids[0]}\\n$`));
    const rows = json<{ host: string; removed: string[] }[]>(
      await cutover(["--json", "--dry-run", "snapshot", "prune"], fx.app),
    );
    assert.deepEqual(Object.keys(rows[0]!).sort(), ["host", "removed"]);
    assert.ok(rows[0]!.removed.includes(ids[0]!));
    assert.equal(snapshots(), before, "the dry run removed nothing");
    assert.equal((await cutover(["snapshot", "prune"], fx.app)).code, 0);
    const none = await cutover(["--dry-run", "snapshot", "prune"], fx.app);
    assert.equal(none.stdout, "local: nothing to remove\n");
  } finally {
    fx.writeConfig();
  }
});
