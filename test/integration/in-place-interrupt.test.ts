import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { interruptWhen, killEach, processesWith, settled } from "../helpers/interrupt.js";
import { snapshot } from "../helpers/tree.js";

const fx = fixture();
after(() => fx.cleanup());

test("SIGTERM during the in-place upload: the previous build is uploaded again, no .~tmp~ is left, exit 130", async () => {
  fx.writeConfig({ strategy: "in-place" });
  const env = { XDG_CACHE_HOME: path.join(fx.dir, "cache") };
  const first = await cutover(["-c", fx.config, "deploy"], fx.app, env);
  assert.equal(first.code, 0, first.stderr);
  const live = path.join(fx.deployPath, "current");
  const before = snapshot(live);

  // A big new file keeps rsync busy long enough to be interrupted while it transfers.
  fx.file("src/lib.php", "<?php function version() { return 'v2'; }\n");
  execFileSync("sh", ["-c", 'head -c 300M /dev/zero > "$1"', "sh", path.join(fx.app, "public/big.bin")]);
  const r = await interruptWhen(["-c", fx.config, "deploy"], fx.app, "--delay-updates", "SIGTERM", env);
  assert.ok(r.sent, `the upload was seen running: ${r.stderr}`);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /upload the previous build again/);
  assert.deepEqual(await settled("--delay-updates"), []);
  assert.deepEqual(snapshot(live), before, "the first build, exactly; no .~tmp~ left");
  const history = readFileSync(path.join(fx.deployPath, ".cutover/history.jsonl"), "utf8").trim().split("\n");
  assert.match(history.at(-1)!, /"outcome":"aborted"/);
});

test("files an interrupted upload had finished into .~tmp~ are gone after the undo: the previous build, exactly", async () => {
  const other = fixture();
  try {
    other.writeConfig({ strategy: "in-place" });
    const env = { XDG_CACHE_HOME: path.join(other.dir, "cache") };
    assert.equal((await cutover(["-c", other.config, "deploy"], other.app, env)).code, 0);
    const live = path.join(other.deployPath, "current");
    // The app's own .~tmp~ in a writable dir and in shared/: never the upload's to remove.
    for (const dir of [
      path.join(live, "bootstrap/cache/.~tmp~"),
      path.join(other.deployPath, "shared/storage/uploads/.~tmp~"),
    ]) {
      mkdirSync(dir);
      writeFileSync(path.join(dir, "app-data"), "the app's\n");
    }
    const before = snapshot(live);
    const sharedBefore = snapshot(path.join(other.deployPath, "shared"));

    // a-new.php sorts before big.bin: it waits, complete, in public/.~tmp~ while big.bin transfers.
    other.file("public/a-new.php", "<?php // only in v2\n");
    execFileSync("sh", ["-c", 'head -c 300M /dev/zero > "$1"', "sh", path.join(other.app, "public/big.bin")]);
    const done = path.join(live, "public/.~tmp~/a-new.php");
    const r = await interruptWhen(
      ["-c", other.config, "deploy"],
      other.app,
      () => existsSync(done),
      "SIGTERM",
      env,
    );
    assert.ok(r.sent, `a-new.php was seen waiting in .~tmp~: ${r.stderr}`);
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /upload the previous build again/);
    assert.deepEqual(await settled("--delay-updates"), []);
    assert.deepEqual(snapshot(live), before, "no .~tmp~ and nothing of v2 left");
    assert.deepEqual(snapshot(path.join(other.deployPath, "shared")), sharedBefore);
  } finally {
    other.cleanup();
  }
});

test("SIGKILL during the in-place upload: the upload stops with its run; rollback --to the live release uploads its build again; the next deploy leaves exactly its build", async () => {
  const other = fixture();
  try {
    other.writeConfig({ strategy: "in-place" });
    const env = { XDG_CACHE_HOME: path.join(other.dir, "cache") };
    const first = await cutover(["-c", other.config, "deploy", "--json"], other.app, env);
    assert.equal(first.code, 0, first.stderr);
    const live = path.join(other.deployPath, "current");
    /** The live copy and a kept build, without what the upload never touches. */
    const liveCode = () => {
      const code = snapshot(live);
      for (const k of [...code.keys()])
        if (k === ".env" || k.startsWith("storage/uploads") || k.startsWith("bootstrap")) code.delete(k);
      return code;
    };
    const buildOf = (id: string) => {
      const stageDir = readdirSync(path.join(other.dir, "cache/cutover"))[0]!;
      const build = snapshot(path.join(other.dir, "cache/cutover", stageDir, "builds", id));
      for (const k of [...build.keys()]) if (k.startsWith("storage/uploads") || k === ".env") build.delete(k);
      return build;
    };

    other.file("src/lib.php", "<?php function version() { return 'v2'; }\n");
    execFileSync("sh", ["-c", 'head -c 300M /dev/zero > "$1"', "sh", path.join(other.app, "public/big.bin")]);
    const r = await interruptWhen(
      ["-c", other.config, "deploy"],
      other.app,
      "--delay-updates",
      "SIGKILL",
      env,
    );
    assert.ok(r.sent, `the upload was seen running: ${r.stderr}`);
    assert.equal(r.code, null, "killed");
    // A killed run's upload that went on would race the next run's in the live directory. (rsync's
    // argv names the build under this fixture's directory: no other test's rsync is counted.)
    const left = await settled(other.dir, 300);
    killEach(left);
    assert.deepEqual(left, [], "no upload of the killed run still writing into current");

    // The killed upload may have renamed some files in: the live release's build, uploaded again, repairs it.
    const liveId = json<{ release: string }>(first).release;
    const again = await cutover(["-c", other.config, "rollback", "--to", liveId, "--json"], other.app, env);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(liveCode(), buildOf(liveId), "the live release's build, exactly; no .~tmp~");
    const rows = json<{ id: string; meta: { state: string } }[]>(
      await cutover(["-c", other.config, "releases", "--json"], other.app, env),
    );
    assert.equal(rows.find((row) => row.id === liveId)?.meta.state, "live");

    other.file("src/lib.php", "<?php function version() { return 'v3'; }\n");
    const next = await cutover(["-c", other.config, "deploy", "--json"], other.app, env);
    assert.equal(next.code, 0, next.stderr);
    const { release } = json<{ release: string }>(next);
    assert.deepEqual(liveCode(), buildOf(release), "the build of the next deploy, exactly; no .~tmp~");
  } finally {
    other.cleanup();
  }
});

test("a release whose run was SIGKILLed during its upload is marked failed by the next run, never a rollback target", async () => {
  const other = fixture();
  try {
    other.writeConfig({ strategy: "in-place" });
    const env = { XDG_CACHE_HOME: path.join(other.dir, "cache") };
    const run = (...args: string[]) => cutover(["-c", other.config, ...args], other.app, env);
    const deploy = async () => {
      const r = await run("deploy", "--json");
      assert.equal(r.code, 0, r.stderr);
      return json<{ release: string }>(r).release;
    };
    const first = await deploy();
    other.file("src/lib.php", "<?php function version() { return 'v2'; }\n");
    const good = await deploy();

    other.file("src/lib.php", "<?php function version() { return 'never verified'; }\n");
    execFileSync("sh", ["-c", 'head -c 300M /dev/zero > "$1"', "sh", path.join(other.app, "public/big.bin")]);
    // This fixture's upload into the live directory (not its build on this machine, nor another test's rsync).
    const uploading = () =>
      processesWith(other.dir).some((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("--delay-updates");
        } catch {
          return false;
        }
      });
    const killed = await interruptWhen(["-c", other.config, "deploy"], other.app, uploading, "SIGKILL", env);
    assert.ok(killed.sent, killed.stderr);
    killEach(await settled(other.dir, 300));

    rmSync(path.join(other.app, "public/big.bin"));
    other.file("src/lib.php", "<?php function version() { return 'v4'; }\n");
    const next = await run("deploy", "--json");
    assert.equal(next.code, 0, next.stderr);
    const latest = json<{ release: string }>(next).release;
    assert.match(next.stderr, /warning: local: an earlier run was interrupted: marking \S+ failed/);
    const listed = json<{ id: string; meta: { state: string } }[]>(await run("releases", "--json"));
    const states = listed
      .filter((row) => ![first, good, latest].includes(row.id))
      .map((row) => row.meta.state);
    assert.deepEqual(states, ["failed"], "the killed run's release");

    const back = await run("rollback", "--json");
    assert.equal(back.code, 0, back.stderr);
    assert.equal(
      json<{ release: string }>(back).release,
      good,
      "the last verified release, not the killed one",
    );
  } finally {
    other.cleanup();
  }
});

test("a build whose removal was stopped half way is no rollback source: the live copy never gets a partial build", async () => {
  const other = fixture();
  try {
    other.writeConfig({ strategy: "in-place", keep_builds: 1 });
    const env = { XDG_CACHE_HOME: path.join(other.dir, "cache") };
    const run = (...args: string[]) => cutover(["-c", other.config, ...args], other.app, env);
    const deploy = async () => {
      const r = await run("deploy", "--json");
      assert.equal(r.code, 0, r.stderr);
      return json<{ release: string }>(r).release;
    };
    // Many files: removing the first build takes long enough to be stopped in the middle.
    const count = 20_000;
    mkdirSync(path.join(other.app, "bulk"));
    for (let i = 0; i < count; i++)
      writeFileSync(path.join(other.app, "bulk", `f${i}.php`), `<?php // ${i}\n`);
    const first = await deploy();
    const live = path.join(other.deployPath, "current");
    const v1 = snapshot(live);
    other.file("src/lib.php", "<?php function version() { return 'v2'; }\n");
    await deploy();

    // The third deploy removes the first build (beyond keep_builds, no longer the one live before).
    const builds = path.join(
      other.dir,
      "cache/cutover",
      readdirSync(path.join(other.dir, "cache/cutover"))[0]!,
      "builds",
    );
    const bulk = path.join(builds, first, "bulk");
    const removing = () => {
      try {
        return readdirSync(bulk).length < count;
      } catch {
        return !existsSync(path.join(builds, first));
      }
    };
    other.file("src/lib.php", "<?php function version() { return 'v3'; }\n");
    const killed = await interruptWhen(["-c", other.config, "deploy"], other.app, removing, "SIGKILL", env);
    assert.ok(killed.sent, killed.stderr);

    const back = await run("rollback", "--to", first);
    if (back.code === 0) assert.deepEqual(snapshot(live), v1, "the first build, all of it");
    else
      assert.match(
        back.stderr.split("\n").find((l) => l.startsWith("error:")) ?? back.stderr,
        /^error: the build of release .* is not kept on this machine/,
      );
  } finally {
    other.cleanup();
  }
});
