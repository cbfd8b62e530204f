import assert from "node:assert/strict";
import { chmodSync, closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { resolveRef } from "../../src/git/resolve.js";

// The agent polls a remote it does not control: what `git ls-remote` prints (a hostile ssh server's
// stderr, or millions of refs ending in the pattern) must not grow without bound and kill the agent.
const bin = mkdtempSync(path.join(os.tmpdir(), "agent fake git "));
after(() => rmSync(bin, { recursive: true, force: true }));

function fakeGit(script: string): () => void {
  writeFileSync(path.join(bin, "git"), `#!/bin/sh\n${script}\n`);
  chmodSync(path.join(bin, "git"), 0o755);
  const before = process.env.PATH;
  process.env.PATH = `${bin}${path.delimiter}${before}`;
  return () => {
    process.env.PATH = before;
  };
}

const FLOOD = 700 * 1024 * 1024; // more than a JavaScript string may hold

test("a remote that floods stderr makes the poll fail, it does not kill the agent", async () => {
  const restore = fakeGit(`head -c ${FLOOD} /dev/zero | tr '\\0' x >&2; echo 'fatal: the end' >&2; exit 128`);
  try {
    await assert.rejects(resolveRef("ssh://evil.example/repo.git", "main"), (error: Error) => {
      assert.match(error.message, /git ls-remote failed/);
      return true;
    });
  } finally {
    restore();
  }
});

test("a remote that floods the listing makes the poll fail, it does not kill the agent", async () => {
  const line = `${"a".repeat(40)}\\trefs/x/refs/heads/main`;
  const restore = fakeGit(`yes '${line}' | head -c ${FLOOD}; exit 0`);
  try {
    await assert.rejects(resolveRef("ssh://evil.example/repo.git", "main"), /ls-remote/);
  } finally {
    restore();
  }
});

test("git that cannot be started for want of file descriptors fails the poll, it does not kill the agent", async () => {
  // Anyone who can open connections to the agent can use up its descriptors: spawn then fails
  // with EMFILE, before git's pipes exist.
  const held: number[] = [];
  let result: Promise<unknown>;
  try {
    for (;;) held.push(openSync("/dev/null", "r"));
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, "EMFILE");
  }
  try {
    result = resolveRef("/nonexistent/repo.git", "main").then(
      () => "resolved",
      (error: Error) => error.message,
    );
  } finally {
    // Freed at once: the spawn failed synchronously, its error event comes on the next tick.
    for (const fd of held) closeSync(fd);
  }
  assert.match(String(await result), /git ls-remote failed/);
  await new Promise((resolve) => setTimeout(resolve, 100)); // a stray error event would land here
});
