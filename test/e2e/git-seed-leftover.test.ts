import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { until } from "../helpers/agent.js";
import { BIN, cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { gitOrigin } from "../helpers/git-origin.js";
import { killEach, processesWith, settled } from "../helpers/interrupt.js";

/**
 * strategy: git seeds a missing shared dir beside it (`shared/<p>.cutover-seed.XXXXXX`, then a
 * rename). A run SIGKILLed while copying leaves that directory: the next run removes it, and only
 * what it can prove is its own. A link or a directory of someone's data at such a name stays, with
 * a warning; nothing is followed or emptied.
 */
const fx = fixture();
after(() => {
  killEach(processesWith(fx.dir));
  fx.cleanup();
});
const origin = gitOrigin(path.join(fx.dir, "origin"));
const deployPath = fx.deployPath;
const storage = path.join(deployPath, "shared/storage");
fx.writeConfig({
  strategy: "git",
  repository: origin.bare,
  ref: "main",
  source: undefined,
  exclude: undefined,
});
mkdirSync(path.join(deployPath, "shared"), { recursive: true });
writeFileSync(path.join(deployPath, "shared/.env"), "K=v\n");
origin.commit({ "public/index.php": "<?php echo 'v1';\n", "storage/uploads/first.txt": "seeded\n" }, "v1");
const seeds = (dir = storage) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((n) => n.includes(".cutover-seed."))
        .sort()
    : [];

/** A `cp` that copies, then (copying a seed) says so and waits: the deploy is killed right there. */
const bin = path.join(fx.dir, "slow cp bin");
mkdirSync(bin);
const realCp = execFileSync("sh", ["-c", "command -v cp"]).toString().trim();
const copied = path.join(fx.dir, "seed copied");
writeFileSync(
  path.join(bin, "cp"),
  `#!/bin/sh
${realCp} "$@" || exit
case "$*:$PWD" in *.cutover-seed.*) : > "$SEED_COPIED"; while :; do sleep 0.05; done ;; esac
`,
  { mode: 0o755 },
);

test("a run SIGKILLed while seeding a shared dir: the next run removes its seed directory and seeds it", async () => {
  const child = spawn(process.execPath, [BIN, "deploy"], {
    cwd: fx.app,
    env: { ...process.env, NO_COLOR: "1", PATH: `${bin}:${process.env.PATH}`, SEED_COPIED: copied },
    detached: true,
    stdio: "ignore",
  });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  await until(() => existsSync(copied), 30_000, "seeding reached");
  process.kill(-child.pid!, "SIGKILL"); // the run's group, then what runs in groups of its own
  killEach(processesWith(fx.dir));
  await exited;
  assert.deepEqual(await settled(fx.dir), []);
  assert.equal(seeds().length, 1, "the killed run left its seed directory");
  assert.equal(existsSync(path.join(storage, "uploads")), false);

  const r = await cutover(["deploy"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(seeds(), [], "removed: it was the killed run's own");
  assert.equal(readFileSync(path.join(storage, "uploads/first.txt"), "utf8"), "seeded\n");
  assert.doesNotMatch(r.stderr, /cutover-seed/, "nothing to warn about");
});

test("a link, or a directory of data, at a seed's name is left alone with a warning; never through a linked parent", async () => {
  const victim = path.join(fx.dir, "victim dir");
  mkdirSync(victim);
  writeFileSync(path.join(victim, "precious.txt"), "precious\n");
  rmSync(path.join(storage, "uploads"), { recursive: true, force: true }); // seeded again below
  symlinkSync(victim, path.join(storage, "uploads.cutover-seed.Lnk001"));
  mkdirSync(path.join(storage, "uploads.cutover-seed.Dat001"));
  writeFileSync(path.join(storage, "uploads.cutover-seed.Dat001/data.txt"), "someone's\n");
  // Marked as a seed, but holding more than a seed does, or its tree a link: not provably cutover's.
  for (const [name, extra] of [
    ["uploads.cutover-seed.Mrk001", "extra.txt"],
    ["uploads.cutover-seed.Tre001", ""],
  ] as const) {
    mkdirSync(path.join(storage, name));
    writeFileSync(path.join(storage, name, ".cutover-seed"), "cutover shared dir seed\n");
    if (extra) {
      mkdirSync(path.join(storage, name, "tree"));
      writeFileSync(path.join(storage, name, extra), "mine\n");
    } else symlinkSync(victim, path.join(storage, name, "tree"));
  }
  const planted = seeds();
  const r = await cutover(["deploy"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(seeds(), planted, "every planted name is still there");
  assert.deepEqual(readdirSync(victim), ["precious.txt"]);
  assert.equal(
    readFileSync(path.join(storage, "uploads.cutover-seed.Dat001/data.txt"), "utf8"),
    "someone's\n",
  );
  assert.equal(readFileSync(path.join(storage, "uploads.cutover-seed.Mrk001/extra.txt"), "utf8"), "mine\n");
  for (const name of planted) assert.match(r.stderr, new RegExp(`warning: .*${name.replace(/\./g, "\\.")}`));
  assert.equal(readFileSync(path.join(storage, "uploads/first.txt"), "utf8"), "seeded\n");
  for (const name of planted) rmSync(path.join(storage, name), { recursive: true });

  // shared/storage -> elsewhere: an own-shaped seed there is not removed through the link.
  const elsewhere = path.join(fx.dir, "elsewhere");
  mkdirSync(path.join(elsewhere, "uploads"), { recursive: true });
  mkdirSync(path.join(elsewhere, "uploads.cutover-seed.Own001"));
  rmSync(storage, { recursive: true });
  symlinkSync(elsewhere, storage);
  const linked = await cutover(["deploy"], fx.app);
  assert.equal(linked.code, 0, linked.stderr);
  assert.deepEqual(seeds(elsewhere), ["uploads.cutover-seed.Own001"]);
});

test("a seed of another user is not provably cutover's; one swapped for a real directory before its removal is not removed", async () => {
  rmSync(storage, { recursive: true, force: true }); // the link the test before left
  mkdirSync(storage);
  const logs = path.join(storage, "logs");
  mkdirSync(logs);
  writeFileSync(path.join(logs, "app.log"), "precious\n");
  const seedShaped = (name: string) => {
    mkdirSync(path.join(storage, name, "tree"), { recursive: true });
    writeFileSync(path.join(storage, name, ".cutover-seed"), "cutover shared dir seed\n");
    writeFileSync(path.join(storage, name, "tree/data.txt"), `${name}'s\n`);
  };
  // Marked and shaped like a seed, but the app's user (another user) made it: its data.
  seedShaped("uploads.cutover-seed.Oth001");
  execFileSync("chown", ["-R", "65534:65534", path.join(storage, "uploads.cutover-seed.Oth001")]);
  // cutover's own, but the app's user (writing in shared/storage) swaps shared/storage/logs in
  // between the check and the removal: an `rm` that makes that swap first, then removes.
  seedShaped("uploads.cutover-seed.Race01");
  const rmBin = path.join(fx.dir, "racing rm bin");
  mkdirSync(rmBin);
  const realRm = execFileSync("sh", ["-c", "command -v rm"]).toString().trim();
  const race = path.join(storage, "uploads.cutover-seed.Race01");
  writeFileSync(
    path.join(rmBin, "rm"),
    `#!/bin/sh
case "$*:$PWD" in *Race01*) [ -d "$RACE.moved" ] || { mv -T -- "$RACE" "$RACE.moved" && mv -T -- "$LOGS" "$RACE"; } ;; esac
exec ${realRm} "$@"
`,
    { mode: 0o755 },
  );
  const r = await cutover(["deploy"], fx.app, {
    PATH: `${rmBin}:${process.env.PATH}`,
    RACE: race,
    LOGS: logs,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    readFileSync(path.join(storage, "uploads.cutover-seed.Oth001/tree/data.txt"), "utf8"),
    "uploads.cutover-seed.Oth001's\n",
  );
  assert.match(r.stderr, /warning: .*uploads\.cutover-seed\.Oth001/);
  assert.equal(existsSync(path.join(race, "tree")), false, "the swap was made");
  assert.equal(existsSync(`${race}.moved`), false, "the seed, emptied under its new name, is gone");
  assert.equal(
    readFileSync(path.join(race, "app.log"), "utf8"),
    "precious\n",
    "the swapped-in directory is whole",
  );
  assert.equal(readFileSync(path.join(storage, "uploads/first.txt"), "utf8"), "seeded\n");
});

test("seeding: a directory the app's user renames to the seed's name while it is filled is neither written nor removed", async () => {
  rmSync(path.join(storage, "uploads"), { recursive: true, force: true }); // seeded again below
  for (const n of seeds()) rmSync(path.join(storage, n), { recursive: true, force: true });
  const logs = path.join(storage, "logs");
  mkdirSync(logs, { recursive: true });
  writeFileSync(path.join(logs, "app.log"), "precious\n");
  // Once the copy is in place: the seed is renamed away, shared/storage/logs renamed to its name.
  const rmBin = path.join(fx.dir, "swapping rm bin");
  mkdirSync(rmBin);
  const realRm = execFileSync("sh", ["-c", "command -v rm"]).toString().trim();
  writeFileSync(
    path.join(rmBin, "rm"),
    `#!/bin/sh
case "$*:$PWD" in
  *uploads.cutover-seed.*)
    s=$(ls -d -- "$STORAGE"/uploads.cutover-seed.* | head -n 1)
    [ -e "$STORAGE/moved" ] || { mv -T -- "$s" "$STORAGE/moved" && mv -T -- "$LOGS" "$s"; } ;;
esac
exec ${realRm} "$@"
`,
    { mode: 0o755 },
  );
  const r = await cutover(["deploy"], fx.app, {
    PATH: `${rmBin}:${process.env.PATH}`,
    STORAGE: storage,
    LOGS: logs,
  });
  assert.equal(existsSync(logs), false, `the swap was made: ${r.stderr}`);
  assert.equal(
    existsSync(path.join(storage, "moved")),
    false,
    "the seed, emptied under the name it was given, is gone",
  );
  const [swapped] = seeds();
  assert.ok(swapped, r.stderr);
  assert.deepEqual(
    readdirSync(path.join(storage, swapped)),
    ["app.log"],
    "the swapped-in directory is whole",
  );
  assert.equal(readFileSync(path.join(storage, swapped, "app.log"), "utf8"), "precious\n");
  assert.equal(readFileSync(path.join(storage, "uploads/first.txt"), "utf8"), "seeded\n");
});

test("a file system mounted inside a seed directory of cutover's own is not emptied: the seed stays, with a warning", async () => {
  rmSync(path.join(storage, "uploads"), { recursive: true, force: true }); // seeded again below
  for (const n of seeds()) rmSync(path.join(storage, n), { recursive: true, force: true });
  const seed = path.join(storage, "uploads.cutover-seed.Mnt001");
  const mount = path.join(seed, "tree/on tmpfs");
  mkdirSync(mount, { recursive: true });
  writeFileSync(path.join(seed, ".cutover-seed"), "cutover shared dir seed\n");
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mount]);
  try {
    writeFileSync(path.join(mount, "photo.jpg"), "on the mount\n");
    const r = await cutover(["deploy"], fx.app);
    assert.equal(
      readFileSync(path.join(mount, "photo.jpg"), "utf8"),
      "on the mount\n",
      "the mount is not emptied",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: .*uploads\.cutover-seed\.Mnt001/);
    assert.equal(readFileSync(path.join(storage, "uploads/first.txt"), "utf8"), "seeded\n");
  } finally {
    execFileSync("umount", ["-l", mount]);
  }
});
