import assert from "node:assert/strict";
import { closeSync, openSync } from "node:fs";
import { test } from "node:test";
import { runLocal } from "../../src/engine/build-local.js";
import { findTree } from "../../src/engine/source-list.js";
import { TransportError } from "../../src/transport/executor.js";
import { runRsync } from "../../src/transport/rsync.js";
import { ShellSession } from "../../src/transport/session.js";

// A process cutover starts that cannot start (no such program, no descriptors left) is an error of
// that step, said in words, never an unheard error event that ends cutover with a stack trace.
const session = (command: string) => new ShellSession("web1", command, ["-s"], async () => undefined);

/** `start` called while this process has no file descriptor left (its spawns fail with EMFILE). */
function withoutDescriptors<T>(start: () => T): T {
  const held: number[] = [];
  try {
    for (;;) held.push(openSync("/dev/null", "r"));
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, "EMFILE");
  }
  try {
    return start();
  } finally {
    for (const fd of held) closeSync(fd);
  }
}

/** A stray error event would land here and fail the test as an uncaught exception. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

test("a session whose program is not installed fails its run with what to install", async () => {
  await assert.rejects(session("cutover-no-such-ssh").run("true", 10), (error: Error) => {
    assert.ok(error instanceof TransportError);
    assert.match(error.message, /cutover-no-such-ssh is not installed on this machine \(or not in PATH\)/);
    return true;
  });
  await settle();
});

test("a session that cannot start for want of file descriptors fails its run, it does not end cutover", async () => {
  const s = session("sh");
  withoutDescriptors(() => s.connect());
  try {
    await assert.rejects(s.run("true", 10), (error: Error) => {
      assert.ok(error instanceof TransportError);
      assert.match(error.message, /cannot start sh here/);
      return true;
    });
    await settle();
  } finally {
    await s.close();
  }
});

test("a local build command, rsync and the source's listing, each unable to start: a failure, not a crash", async () => {
  const build = withoutDescriptors(() => runLocal("true", [], { timeoutMs: 10_000 }).then(String, String));
  const rsync = withoutDescriptors(() => runRsync("web1", ["--version"]).then(String, (e: Error) => e));
  const listing = withoutDescriptors(() => findTree(".", []));
  assert.match(await build, /EMFILE/);
  const refused = await rsync;
  assert.ok(refused instanceof TransportError, String(refused));
  assert.match(refused.message, /cannot run rsync/);
  assert.equal(await listing, undefined, "no listing: the caller lists the tree itself");
  await settle();
});
