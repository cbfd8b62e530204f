import assert from "node:assert/strict";
import { closeSync, openSync } from "node:fs";
import { test } from "node:test";
import { runLocal } from "../../src/engine/build-local.js";
import { TransportError } from "../../src/transport/executor.js";
import { ShellSession } from "../../src/transport/session.js";

// The session process is the first thing a run starts on each host: if it cannot start, that is
// the host's error, said in words, and never an unheard error event that ends cutover with a trace.
const session = (command: string) => new ShellSession("web1", command, ["-s"], async () => undefined);

test("a session whose program is not installed fails its run with what to install", async () => {
  await assert.rejects(session("cutover-no-such-ssh").run("true", 10), (error: Error) => {
    assert.ok(error instanceof TransportError);
    assert.match(error.message, /cutover-no-such-ssh is not installed on this machine \(or not in PATH\)/);
    return true;
  });
  await new Promise((resolve) => setTimeout(resolve, 100)); // a stray error event would land here
});

test("a session that cannot start for want of file descriptors fails its run, it does not end cutover", async () => {
  const s = session("sh");
  const held: number[] = [];
  try {
    for (;;) held.push(openSync("/dev/null", "r"));
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, "EMFILE");
  }
  try {
    s.connect(); // the process is started here, while no descriptor is left
  } finally {
    for (const fd of held) closeSync(fd);
  }
  try {
    await assert.rejects(s.run("true", 10), (error: Error) => {
      assert.ok(error instanceof TransportError);
      assert.match(error.message, /cannot start sh here/);
      return true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100)); // a stray error event would land here
  } finally {
    await s.close();
  }
});

test("a local build command that cannot start for want of file descriptors fails, it does not end cutover", async () => {
  const held: number[] = [];
  let result: Promise<string>;
  try {
    for (;;) held.push(openSync("/dev/null", "r"));
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, "EMFILE");
  }
  try {
    result = runLocal("true", [], { timeoutMs: 10_000 }).then(
      () => "ran",
      (error: Error) => error.message,
    );
  } finally {
    for (const fd of held) closeSync(fd);
  }
  assert.match(String(await result), /EMFILE/);
  await new Promise((resolve) => setTimeout(resolve, 100));
});
