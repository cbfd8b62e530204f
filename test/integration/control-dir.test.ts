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
import { makeControlDir } from "../../src/engine/control-dir.js";
import { CutoverError } from "../../src/errors.js";
import { scratchDir } from "../helpers/scratch.js";

/**
 * A run's SSH control directory (engine/control-dir.ts) is named with its process id; a run killed
 * by SIGKILL leaves it behind, and a later run removes it: only a directory of this user's (0700)
 * whose process is gone, a day old, holding nothing but this user's control sockets.
 */
const dayOld = (p: string) => {
  const then = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000);
  if (lstatSync(p).isSymbolicLink()) lutimesSync(p, then, then);
  else utimesSync(p, then, then);
};

/** A unix socket file left behind, as by a process killed while listening. */
function leftSocket(file: string): void {
  spawnSync(process.execPath, [
    "-e",
    "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))",
    file,
  ]);
  assert.ok(lstatSync(file).isSocket());
}

test("what killed runs left is removed; anything else named like it stays", () => {
  const tmp = scratchDir("control dirs ");
  const dead = spawnSync("true").pid;
  const make = (name: string, fill?: (dir: string) => void) => {
    const dir = path.join(tmp, name);
    mkdirSync(dir);
    chmodSync(dir, 0o700); // as mkdtemp makes it
    fill?.(dir);
    dayOld(dir);
    return dir;
  };
  make(`cutover-${dead}-aaaaaa`);
  make(`cutover-${dead}-bbbbbb`, (d) => {
    leftSocket(path.join(d, "c0"));
    leftSocket(path.join(d, "c12"));
  });
  // Kept: changed within the day (a run in another PID namespace looks gone), a live process's,
  // holding a file, holding a socket of another name, a symlink, no process id in the name.
  make(`cutover-${dead}-cccccc`);
  utimesSync(path.join(tmp, `cutover-${dead}-cccccc`), new Date(), new Date());
  make(`cutover-${process.pid}-dddddd`);
  make(`cutover-${dead}-eeeeee`, (d) => writeFileSync(path.join(d, "c1"), "a file, not a socket"));
  make(`cutover-${dead}-gggggg`, (d) => leftSocket(path.join(d, "other")));
  const target = make("a directory elsewhere", (d) => writeFileSync(path.join(d, "keep.txt"), "keep"));
  symlinkSync(target, path.join(tmp, `cutover-${dead}-ffffff`));
  dayOld(path.join(tmp, `cutover-${dead}-ffffff`));
  make("cutover-hhhhhh");
  // Kept too: open to others (anyone could have put its socket there), a socket of another user's.
  const open = make(`cutover-${dead}-iiiiii`, (d) => leftSocket(path.join(d, "c0")));
  chmodSync(open, 0o755);
  dayOld(open);
  make(`cutover-${dead}-jjjjjj`, (d) => {
    leftSocket(path.join(d, "c0"));
    leftSocket(path.join(d, "c1"));
    lchownSync(path.join(d, "c1"), 4321, 4321);
  });

  const mine = makeControlDir(tmp);
  assert.equal(statSync(mine).mode & 0o777, 0o700);
  assert.match(path.basename(mine), new RegExp(`^cutover-${process.pid}-[A-Za-z0-9]{6}$`));
  assert.deepEqual(
    readdirSync(tmp).sort(),
    [
      "a directory elsewhere",
      path.basename(mine),
      `cutover-${dead}-cccccc`,
      `cutover-${dead}-eeeeee`,
      `cutover-${dead}-ffffff`,
      `cutover-${dead}-gggggg`,
      `cutover-${dead}-iiiiii`,
      `cutover-${dead}-jjjjjj`,
      `cutover-${process.pid}-dddddd`,
      "cutover-hhhhhh",
    ].sort(),
  );
  assert.ok(existsSync(path.join(target, "keep.txt")));
  assert.ok(existsSync(path.join(tmp, `cutover-${dead}-eeeeee`, "c1")));
  assert.deepEqual(readdirSync(path.join(tmp, `cutover-${dead}-jjjjjj`)).sort(), ["c0", "c1"]);
  assert.deepEqual(readdirSync(open), ["c0"]);
});

test("a TMPDIR that is missing or not a directory is a usage error naming it, not an internal error", () => {
  const tmp = scratchDir("control dirs ");
  const file = path.join(tmp, "a file");
  writeFileSync(file, "");
  for (const [dir, code] of [
    [path.join(tmp, "missing"), "ENOENT"],
    [file, "ENOTDIR"],
  ] as const) {
    assert.throws(
      () => makeControlDir(dir),
      (e) =>
        e instanceof CutoverError &&
        e.code === "usage" &&
        e.message === `cannot make a directory for SSH control sockets in ${dir} (TMPDIR): ${code}`,
    );
  }
});

test("in a TMPDIR others may rename in (writable by them, not sticky), nothing is removed", () => {
  const tmp = scratchDir("control dirs ");
  const dead = spawnSync("true").pid;
  const left = path.join(tmp, `cutover-${dead}-aaaaaa`);
  mkdirSync(left, { mode: 0o700 });
  leftSocket(path.join(left, "c0"));
  dayOld(left);
  for (const mode of [0o777, 0o775]) {
    chmodSync(tmp, mode);
    rmSync(makeControlDir(tmp), { recursive: true });
    assert.deepEqual(readdirSync(left), ["c0"], mode.toString(8));
  }
  chmodSync(tmp, 0o1777); // sticky, as /tmp: only the owner renames its entries
  rmSync(makeControlDir(tmp), { recursive: true });
  assert.equal(existsSync(left), false);
});
