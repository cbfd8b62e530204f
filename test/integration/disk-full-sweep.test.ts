import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { type CliResult, cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { assertCurrentComplete, snapshot, trashEmptied } from "../helpers/tree.js";

/**
 * A full disk at every write of a deploy: the target is a small tmpfs, and before each deploy a
 * filler leaves it k free pages (then k free inodes), k = 0, 1, 2, … stepping through every write a
 * deploy and a rollback make (lock, metadata, the changed file, manifest, switch link, history)
 * until both pass twice in a row. Whatever k,
 * `current` is a complete release as recorded, shared/ is untouched, no lock is left, the error is
 * a message, not a stack; with the space back, the next deploy and a verify succeed.
 */
const fx = fixture();
const mountPoint = path.join(fx.dir, "small disk");
const deployPath = path.join(mountPoint, "app");
const filler = path.join(mountPoint, "filler");
const WRITABLE = ["bootstrap/cache"];

before(() => {
  mkdirSync(mountPoint);
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m,nr_inodes=400", "tmpfs", mountPoint]);
  fx.writeConfig({ keep_releases: 2 }, [{ path: deployPath }]);
});
after(() => {
  execFileSync("umount", ["-l", mountPoint]);
  fx.cleanup();
});

/** Leaves `free` pages (or inodes) free on the tmpfs; undone by removing the filler. */
function fill(kind: "pages" | "inodes", free: number): void {
  rmSync(filler, { recursive: true, force: true });
  const s = statfsSync(mountPoint);
  if (kind === "pages") {
    const bytes = (s.bavail - free) * s.bsize;
    if (bytes > 0) writeFileSync(filler, Buffer.alloc(bytes));
  } else {
    mkdirSync(filler);
    for (let i = 0; i < s.ffree - free - 1; i++) writeFileSync(path.join(filler, String(i)), "");
  }
}

function assertSafe(r: CliResult, sharedBefore: Map<string, string>, what: string): void {
  assert.ok([0, 1, 4].includes(r.code), `${what}: exit ${r.code}\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `${what}: a stack trace\n${r.stderr}`);
  try {
    // A run whose records failed (exit 4) leaves the metadata as it was: the next run mends it.
    assertCurrentComplete(
      deployPath,
      WRITABLE,
      r.code === 4 ? ["ready", "live", "superseded", "rolled-back"] : undefined,
    );
  } catch (error) {
    throw new Error(`${what}: ${(error as Error).message}; it exited ${r.code}:\n${r.stderr}`);
  }
  assert.deepEqual(snapshot(path.join(deployPath, "shared")), sharedBefore, `${what}: shared/ changed`);
}

/** With the space back: the lock was given back, and a deploy and a verify succeed. */
async function recovers(what: string): Promise<void> {
  rmSync(filler, { recursive: true, force: true });
  const d = await cutover(["deploy", "-q"], fx.app);
  assert.equal(d.code, 0, `${what}: the deploy after it\n${d.stderr}`);
  const v = await cutover(["verify"], fx.app);
  assert.equal(v.code, 0, `${what}: verify after it\n${v.stdout}${v.stderr}`);
  await trashEmptied(deployPath);
}

let version = 0;
for (const kind of ["pages", "inodes"] as const) {
  test(`deploy and rollback with 0, 1, 2, … free ${kind} until both pass: current stays a complete release, shared/ intact, no lock left`, async () => {
    rmSync(filler, { recursive: true, force: true });
    for (let i = 0; i < 2; i++) {
      fx.file("src/lib.php", `<?php function version() { return 'v${++version}'; }\n`);
      const r = await cutover(["deploy", "-q"], fx.app);
      assert.equal(r.code, 0, r.stderr);
    }
    const shared = snapshot(path.join(deployPath, "shared"));
    let failures = 0;
    let passed = 0;
    for (let free = 0; free <= 40 && passed < 2; free++) {
      fx.file("src/lib.php", `<?php function version() { return 'v${++version}'; }\n`);
      await trashEmptied(deployPath);
      fill(kind, free);
      const r = await cutover(["deploy", "-q"], fx.app);
      assertSafe(r, shared, `deploy with ${free} free ${kind}`);
      if (r.code !== 0) failures += 1;
      const rb = await cutover(["rollback", "-q"], fx.app);
      assertSafe(rb, shared, `rollback with ${free} free ${kind}`);
      passed = r.code === 0 && rb.code === 0 ? passed + 1 : 0;
      await recovers(`${free} free ${kind}`);
    }
    // The sweep went from disks too full for any write to ones with room for all of them.
    assert.ok(failures > 0 && passed === 2, `${failures} deploys failed, ${passed} passed last`);
  });
}
