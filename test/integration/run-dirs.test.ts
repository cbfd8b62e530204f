import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { makeRunDir } from "../../src/engine/run-dirs.js";
import { CutoverError } from "../../src/errors.js";
import { scratchDir } from "../helpers/scratch.js";

/**
 * A run's scratch directories (engine/run-dirs.ts) are named with their kind and the process id,
 * in $TMPDIR/cutover-<uid>; a run killed by SIGKILL leaves them behind, and a later run removes
 * them: only a directory of this user's so named whose process is gone, a day old.
 */
const uid = process.getuid!();
const dayOld = (p: string) => {
  const then = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000);
  if (lstatSync(p).isSymbolicLink()) lutimesSync(p, then, then);
  else utimesSync(p, then, then);
};
const deadPid = () => spawnSync("true").pid!;

/** A unix socket file left behind, as by a process killed while listening. */
function leftSocket(file: string): void {
  spawnSync(process.execPath, [
    "-e",
    "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))",
    file,
  ]);
  assert.ok(lstatSync(file).isSocket());
}

function makeIn(parent: string, name: string, fill?: (dir: string) => void): string {
  const dir = path.join(parent, name);
  mkdirSync(dir, { mode: 0o700 });
  fill?.(dir);
  dayOld(dir);
  return dir;
}

test("what killed runs left is removed, links inside not followed; anything else stays", () => {
  const tmp = scratchDir("run dirs ");
  const root = path.join(tmp, `cutover-${uid}`);
  mkdirSync(root, { mode: 0o700 });
  const dead = deadPid();
  const outside = makeIn(tmp, "outside", (d) => writeFileSync(path.join(d, "keep.txt"), "keep"));
  const make = (name: string, fill?: (dir: string) => void) => makeIn(root, name, fill);
  make(`ssh-${dead}-aaaaaa`, (d) => {
    leftSocket(path.join(d, "c0"));
    leftSocket(path.join(d, "c12"));
  });
  make(`send-${dead}-bbbbbb`, (d) => writeFileSync(path.join(d, "files"), "a\0b\0"));
  make(`build-${dead}-cccccc`, (d) => {
    mkdirSync(path.join(d, "build/vendor"), { recursive: true });
    writeFileSync(path.join(d, "build/vendor/x.php"), "<?php\n");
    symlinkSync(outside, path.join(d, "build/elsewhere"));
  });
  make(`list-${dead}-dddddd`);
  // Kept: changed within the day (a run in another PID namespace looks gone), a live process's,
  // another kind, a link so named, another user's, the older format, a file so named.
  make(`ssh-${dead}-eeeeee`);
  utimesSync(path.join(root, `ssh-${dead}-eeeeee`), new Date(), new Date());
  make(`ssh-${process.pid}-ffffff`);
  make(`other-${dead}-gggggg`);
  symlinkSync(outside, path.join(root, `build-${dead}-hhhhhh`));
  dayOld(path.join(root, `build-${dead}-hhhhhh`));
  make(`send-${dead}-iiiiii`, (d) => writeFileSync(path.join(d, "files"), ""));
  lchownSync(path.join(root, `send-${dead}-iiiiii`), 4321, 4321);
  make(`cutover-${dead}-jjjjjj`);
  writeFileSync(path.join(root, `list-${dead}-kkkkkk`), "");
  dayOld(path.join(root, `list-${dead}-kkkkkk`));

  const mine = makeRunDir("ssh", tmp);
  assert.equal(path.dirname(mine), root);
  assert.match(path.basename(mine), new RegExp(`^ssh-${process.pid}-[A-Za-z0-9]{6}$`));
  assert.equal(statSync(mine).mode & 0o777, 0o700);
  assert.deepEqual(
    readdirSync(root).sort(),
    [
      path.basename(mine),
      `ssh-${dead}-eeeeee`,
      `ssh-${process.pid}-ffffff`,
      `other-${dead}-gggggg`,
      `build-${dead}-hhhhhh`,
      `send-${dead}-iiiiii`,
      `cutover-${dead}-jjjjjj`,
      `list-${dead}-kkkkkk`,
    ].sort(),
  );
  assert.deepEqual(readdirSync(outside), ["keep.txt"]);
  for (const kind of ["send", "build", "list"] as const)
    assert.match(path.basename(makeRunDir(kind, tmp)), new RegExp(`^${kind}-${process.pid}-`));
});

test("the root is made 0700; where it cannot be had, the run's directory is made in TMPDIR and nothing is removed", () => {
  const left = (root: string) =>
    makeIn(root, `ssh-${deadPid()}-aaaaaa`, (d) => leftSocket(path.join(d, "c0")));
  const inTmp = (tmp: string, dir: string) =>
    assert.match(path.relative(tmp, dir), new RegExp(`^cutover-ssh-${process.pid}-[A-Za-z0-9]{6}$`));

  const fresh = scratchDir("run dirs ");
  const made = makeRunDir("ssh", fresh);
  assert.equal(path.dirname(made), path.join(fresh, `cutover-${uid}`));
  assert.equal(lstatSync(path.dirname(made)).mode & 0o777, 0o700);

  // TMPDIR others may rename in (writable by them, not sticky): the root could be swapped.
  const open = scratchDir("run dirs ");
  const openRoot = path.join(open, `cutover-${uid}`);
  mkdirSync(openRoot, { mode: 0o700 });
  const openLeft = left(openRoot);
  for (const mode of [0o777, 0o775]) {
    chmodSync(open, mode);
    const dir = makeRunDir("ssh", open);
    inTmp(open, dir);
    rmSync(dir, { recursive: true });
    assert.deepEqual(readdirSync(openLeft), ["c0"], mode.toString(8));
  }
  chmodSync(open, 0o1777); // sticky, as /tmp: only the owner renames its entries
  assert.equal(path.dirname(makeRunDir("ssh", open)), openRoot);
  assert.equal(existsSync(openLeft), false);

  // The root's name taken by a link, or by a directory of another user's: not used, not emptied.
  const linked = scratchDir("run dirs ");
  const elsewhere = makeIn(linked, "elsewhere");
  const linkedLeft = left(elsewhere);
  symlinkSync(elsewhere, path.join(linked, `cutover-${uid}`));
  inTmp(linked, makeRunDir("ssh", linked));
  assert.deepEqual(readdirSync(linkedLeft), ["c0"]);

  const foreign = scratchDir("run dirs ");
  const foreignRoot = path.join(foreign, `cutover-${uid}`);
  mkdirSync(foreignRoot, { mode: 0o700 });
  const foreignLeft = left(foreignRoot);
  lchownSync(foreignRoot, 4321, 4321);
  inTmp(foreign, makeRunDir("ssh", foreign));
  assert.deepEqual(readdirSync(foreignLeft), ["c0"]);
});

test("a TMPDIR that is missing or not a directory is a usage error naming it, not an internal error", () => {
  const tmp = scratchDir("run dirs ");
  const file = path.join(tmp, "a file");
  writeFileSync(file, "");
  for (const [dir, code] of [
    [path.join(tmp, "missing"), "ENOENT"],
    [file, "ENOTDIR"],
  ] as const) {
    assert.throws(
      () => makeRunDir("ssh", dir),
      (e) =>
        e instanceof CutoverError &&
        e.code === "usage" &&
        e.message === `cannot make a scratch directory in ${dir} (TMPDIR): ${code}`,
    );
  }
});

test("a TMPDIR another user could swap the root in (theirs though sticky, in a directory of theirs, a link of theirs): nothing removed", () => {
  const other = 4321;
  const withLeft = (tmp: string) => {
    const root = path.join(tmp, `cutover-${uid}`);
    mkdirSync(root, { mode: 0o700 });
    return makeIn(root, `ssh-${deadPid()}-aaaaaa`, (d) => leftSocket(path.join(d, "c0")));
  };
  const refused = (tmp: string, left: string, what: string) => {
    const dir = makeRunDir("ssh", tmp);
    assert.match(path.relative(tmp, dir), new RegExp(`^cutover-ssh-${process.pid}-[A-Za-z0-9]{6}$`), what);
    assert.deepEqual(readdirSync(left), ["c0"], what);
  };

  // Sticky, as /tmp, but its owner may rename any entry in it.
  const theirs = scratchDir("run dirs ");
  const theirsLeft = withLeft(theirs);
  chmodSync(theirs, 0o1777);
  lchownSync(theirs, other, other);
  refused(theirs, theirsLeft, "a sticky TMPDIR of another user's");

  // Ours, in a directory of another user's: they may rename TMPDIR itself.
  const under = path.join(scratchDir("run dirs "), "theirs");
  mkdirSync(under, { mode: 0o755 });
  const inner = path.join(under, "tmp");
  mkdirSync(inner, { mode: 0o700 });
  const underLeft = withLeft(inner);
  lchownSync(under, other, other);
  refused(inner, underLeft, "a TMPDIR in a directory of another user's");

  // A link of another user's in a sticky directory: they may point it elsewhere.
  const sticky = scratchDir("run dirs ");
  const real = scratchDir("run dirs ");
  const realLeft = withLeft(real);
  chmodSync(sticky, 0o1777);
  const link = path.join(sticky, "tmp");
  symlinkSync(real, link);
  lchownSync(link, other, other);
  refused(link, realLeft, "a TMPDIR that is a link of another user's");

  // A link of ours whose target goes through that link of theirs.
  const ours = path.join(scratchDir("run dirs "), "tmp");
  symlinkSync(path.join(link, "."), ours);
  refused(ours, realLeft, "a TMPDIR link of ours to a path through a link of another user's");
});
