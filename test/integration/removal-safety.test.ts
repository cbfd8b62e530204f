import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { wrapCommand } from "../helpers/bin.js";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { sshHost, sshRig } from "../helpers/sshd.js";
import { trashEmptied } from "../helpers/tree.js";

/**
 * What the removal of pruned releases must not do silently or at all: fail out of sight (it runs
 * after its deploy, in .cutover/trash), or delete through a file system mounted inside a release.
 */
const fx = fixture();
after(() => fx.cleanup());
fx.writeConfig({ keep_releases: 1 });
const releases = () => readdirSync(path.join(fx.deployPath, "releases")).sort();
let version = 0;

/** Unmounts what is mounted under `dir`, wherever a removal may have moved it (the kernel's table). */
function unmountUnder(dir: string): void {
  const points = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) =>
      line
        .split(" ")[4]
        ?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))),
    )
    .filter((p): p is string => p?.startsWith(`${dir}/`) === true);
  for (const p of points.reverse()) execFileSync("umount", [p]);
}

/** A deploy; exit 4 when a cleanup warning is expected (the release is live, a step after it failed). */
async function deploy(
  env: Record<string, string> = {},
  code = 0,
): Promise<{ release: string; warnings: string[] }> {
  version += 1;
  fx.file("src/lib.php", `<?php function version() { return 'v${version}'; }\n`);
  const r = await cutover(["--json", "deploy", "-q"], fx.app, env);
  assert.equal(r.code, code, r.stderr);
  return json<{ release: string; warnings: string[] }>(r);
}

test("a removal in the trash that fails is reported by the next run that removes releases, then done by it", async () => {
  await deploy();
  await deploy();
  // rm fails wherever it runs in the trash, as for files the app's user wrote and this one cannot remove.
  const failing = wrapCommand(
    path.join(fx.dir, "bin-rm-denied"),
    "rm",
    `[ "$1 $2" = "-rf --one-file-system" ] && case "$(pwd -P)" in */.cutover/trash)
  echo "rm: cannot remove '$4/cache/x': Permission denied" >&2; exit 1 ;; esac`,
  );
  const pruned = releases()[0]!;
  await deploy({ PATH: `${failing}:${process.env.PATH}` });
  const trash = path.join(fx.deployPath, ".cutover/trash");
  // The removal, on its own, fails and notes it (however slow the machine).
  for (let i = 0; i < 200 && !existsSync(path.join(trash, ".failed")); i++)
    await new Promise((r) => setTimeout(r, 50));
  assert.ok(readdirSync(trash).includes(pruned), "left in the trash");
  const noWebConfigs = path.join(fx.dir, "no web configs");
  mkdirSync(noWebConfigs, { recursive: true });
  const doctor = await cutover(["doctor", "--web-config", noWebConfigs], fx.app);
  assert.match(
    doctor.stdout,
    /1 pruned release\(s\) could not be removed from .*\.cutover\/trash: rm: cannot remove '.*\/cache\/x': Permission denied\n\s*fix: remove them there by hand/,
  );
  const next = await deploy({}, 4);
  assert.ok(
    next.warnings.some((w) =>
      /cleanup failed: releases pruned earlier are left in .*\.cutover\/trash \(remove them there by hand\): rm: cannot remove '.*\/cache\/x': Permission denied/.test(
        w,
      ),
    ),
    next.warnings.join("\n"),
  );
  await trashEmptied(fx.deployPath);
  assert.deepEqual(readdirSync(trash), [], "removed by the run that reported it");
  assert.deepEqual((await deploy()).warnings, [], "and reported once");
});

test("a file system mounted inside a release to prune: nothing removed through it, the release kept and named", async () => {
  await trashEmptied(fx.deployPath);
  const data = path.join(fx.dir, "mounted data");
  mkdirSync(data);
  writeFileSync(path.join(data, "keep.txt"), "not cutover's\n");
  const oldest = releases()[0]!;
  const at = path.join(fx.deployPath, "releases", oldest, "src");
  execFileSync("mount", ["--bind", data, at]);
  try {
    const r = await deploy({}, 4);
    assert.ok(
      r.warnings.some((w) => /refusing to remove .*releases\/\S+: .*mounted.*\/src/.test(w)),
      r.warnings.join("\n"),
    );
    assert.ok(releases().includes(oldest), "kept while something is mounted in it");
    await trashEmptied(fx.deployPath);
    assert.deepEqual(readdirSync(data), ["keep.txt"]);
    assert.equal(readFileSync(path.join(data, "keep.txt"), "utf8"), "not cutover's\n");
  } finally {
    unmountUnder(fx.dir);
  }
  await deploy();
  assert.ok(!releases().includes(oldest), "removed once unmounted");
  assert.ok(existsSync(path.join(data, "keep.txt")));
});

test("over SSH, the same: a release with a file system mounted in it is kept and named, what is mounted stays", async () => {
  const over = fixture();
  const rig = sshRig();
  try {
    const sshd = await rig.start();
    over.writeConfig({ keep_releases: 1 }, [sshHost(rig, sshd, over.deployPath, { name: "web1" })]);
    const run = async (code = 0) => {
      version += 1;
      over.file("src/lib.php", `<?php function version() { return 'v${version}'; }\n`);
      const r = await cutover(["--json", "deploy", "-q"], over.app);
      assert.equal(r.code, code, r.stderr);
      return json<{ warnings: string[] }>(r).warnings;
    };
    await run();
    await run();
    const remoteReleases = () => readdirSync(path.join(over.deployPath, "releases")).sort();
    const oldest = remoteReleases()[0]!;
    const data = path.join(over.dir, "mounted data");
    mkdirSync(data);
    writeFileSync(path.join(data, "keep.txt"), "not cutover's\n");
    execFileSync("mount", ["--bind", data, path.join(over.deployPath, "releases", oldest, "src")]);
    try {
      const warnings = await run(4);
      assert.ok(
        warnings.some((w) => /web1.*refusing to remove .*releases\/\S+: .*mounted.*\/src/.test(w)),
        warnings.join("\n"),
      );
      assert.ok(remoteReleases().includes(oldest), "kept while something is mounted in it");
      await trashEmptied(over.deployPath);
      assert.deepEqual(readdirSync(data), ["keep.txt"]);
    } finally {
      unmountUnder(over.dir);
    }
    await run();
    assert.ok(!remoteReleases().includes(oldest), "removed once unmounted");
    assert.ok(existsSync(path.join(data, "keep.txt")));
  } finally {
    await rig.stopAll();
    over.cleanup();
  }
});

test("a failed deploy while the trash has a .failed to report: its failure is still recorded (metadata, history)", async () => {
  await trashEmptied(fx.deployPath);
  const trash = path.join(fx.deployPath, ".cutover/trash");
  // Left by an earlier removal that failed; what it could not remove was taken by hand since.
  writeFileSync(path.join(trash, ".failed"), "rm: cannot remove 'x/cache/y': Permission denied\n");
  fx.writeConfig({ keep_releases: 1, hooks: { build: ["echo 'composer exploded' >&2; exit 7"] } });
  try {
    version += 1;
    fx.file("src/lib.php", `<?php function version() { return 'v${version}'; }\n`);
    const r = await cutover(["--json", "deploy", "-q"], fx.app);
    assert.equal(r.code, 1, r.stderr);
    const failed = json<{ release: string }>(r).release;
    const meta = path.join(fx.deployPath, ".cutover/releases", `${failed}.json`);
    assert.ok(existsSync(meta), `the failed release's metadata is kept, with why:\n${r.stderr}`);
    assert.equal(JSON.parse(readFileSync(meta, "utf8")).state, "failed");
    const last = readFileSync(path.join(fx.deployPath, ".cutover/history.jsonl"), "utf8")
      .trim()
      .split("\n")
      .at(-1)!;
    assert.match(
      last,
      new RegExp(`"release":"${failed}".*"outcome":"failed"|"outcome":"failed".*"release":"${failed}"`),
    );
  } finally {
    fx.writeConfig({ keep_releases: 1 });
  }
});
