import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readlinkSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";

/**
 * adopt --migrate on a full disk, at every write it makes (k = 0, 1, 2, … free pages on a small
 * tmpfs): whatever fails, `current` is either still the directory or links to a release whose
 * metadata is there, so later runs know it.
 */
const fx = fixture();
const mountPoint = path.join(fx.dir, "small disk");
const filler = path.join(mountPoint, "filler");

before(() => {
  mkdirSync(mountPoint);
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m,nr_inodes=400", "tmpfs", mountPoint]);
});
after(() => {
  execFileSync("umount", ["-l", mountPoint]);
  fx.cleanup();
});

test("adopt --migrate with 0, 1, 2, … free pages: current never links to a release with no metadata", async () => {
  let passed = false;
  for (let free = 0; free <= 12 && !passed; free++) {
    rmSync(filler, { force: true });
    const root = path.join(mountPoint, `app ${free}`);
    mkdirSync(path.join(root, "current/public"), { recursive: true });
    writeFileSync(path.join(root, "current/public/index.php"), "<?php echo 'by hand';");
    fx.writeConfig({ keep_releases: 2, shared_dirs: [], shared_files: [] }, [{ path: root }]);
    const s = statfsSync(mountPoint);
    const bytes = (s.bavail - free) * s.bsize;
    if (bytes > 0) writeFileSync(filler, Buffer.alloc(bytes));
    const r = await cutover(["adopt", "--migrate"], fx.app);
    rmSync(filler, { force: true });
    assert.doesNotMatch(r.stderr, /^\s+at /m, `${free} free: a stack trace\n${r.stderr}`);
    const current = path.join(root, "current");
    if (lstatSync(current).isSymbolicLink()) {
      const id = path.basename(readlinkSync(current));
      assert.ok(
        existsSync(path.join(root, ".cutover/releases", `${id}.json`)),
        `${free} free pages: current links to ${id}, which has no metadata (exit ${r.code}):\n${r.stderr}`,
      );
    }
    passed = r.code === 0;
    rmSync(root, { recursive: true, force: true });
  }
  assert.ok(passed, "with room enough, adopt --migrate succeeds");
});
