import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import type { ResolvedStage } from "../../src/config/resolve.js";
import { sourceFacts } from "../../src/engine/source.js";
import { scratchDir } from "../helpers/scratch.js";

const stageOf = (source: string) => ({ source, sharedDirs: [], sharedFiles: [] }) as unknown as ResolvedStage;

/** git in `dir`, as a user with a name, its output trimmed. */
const gitIn =
  (dir: string) =>
  (...args: string[]) =>
    execFileSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], { cwd: dir })
      .toString()
      .trim();

test("the source's revision: the commit, and dirty even when git status prints more than 1 MiB", async () => {
  const dir = scratchDir("source facts ");
  const git = gitIn(dir);
  git("init", "-q");
  writeFileSync(path.join(dir, "index.php"), "<?php\n");
  git("add", "-A");
  assert.equal((await sourceFacts(stageOf(dir))).revision, null, "no commit yet");
  git("commit", "-qm", "app");
  const commit = git("rev-parse", "HEAD");
  assert.deepEqual((await sourceFacts(stageOf(dir))).revision, { commit, dirty: false });
  // A change to a tracked file, named like git's own header lines.
  writeFileSync(path.join(dir, "# branch.oid"), "");
  git("add", "-A");
  git("commit", "-qm", "odd name");
  const second = git("rev-parse", "HEAD");
  assert.deepEqual((await sourceFacts(stageOf(dir))).revision, { commit: second, dirty: false });
  writeFileSync(path.join(dir, "# branch.oid"), "changed");
  assert.deepEqual((await sourceFacts(stageOf(dir))).revision, { commit: second, dirty: true });
  writeFileSync(path.join(dir, "# branch.oid"), "");

  // 12,000 untracked files with long names: `git status --porcelain` prints ~1.2 MB.
  const long = "x".repeat(90);
  for (let i = 0; i < 12_000; i++) writeFileSync(path.join(dir, `${long}${i}.txt`), "");
  assert.deepEqual((await sourceFacts(stageOf(dir))).revision, { commit: second, dirty: true });

  assert.equal((await sourceFacts(stageOf(scratchDir("not a checkout ")))).revision, null);
});

test("the source's revision: detached, ahead of its upstream, and a subdirectory of the checkout", async () => {
  const dir = scratchDir("source facts ");
  const git = gitIn(dir);
  git("init", "-q", "-b", "main");
  mkdirSync(path.join(dir, "app"));
  writeFileSync(path.join(dir, "app", "index.php"), "<?php\n");
  writeFileSync(path.join(dir, "notes.txt"), "");
  git("add", "-A");
  git("commit", "-qm", "one");
  git("update-ref", "refs/remotes/origin/main", "HEAD");
  git("config", "branch.main.remote", "origin");
  git("config", "branch.main.merge", "refs/heads/main");
  for (let i = 0; i < 3; i++) git("commit", "-q", "--allow-empty", "-m", `ahead ${i}`);
  const commit = git("rev-parse", "HEAD");
  const app = path.join(dir, "app");
  assert.deepEqual((await sourceFacts(stageOf(app))).revision, { commit, dirty: false }, "ahead of upstream");
  // A change outside the source's directory is not the source's.
  writeFileSync(path.join(dir, "notes.txt"), "changed");
  assert.deepEqual((await sourceFacts(stageOf(app))).revision, { commit, dirty: false }, "outside");
  assert.deepEqual((await sourceFacts(stageOf(dir))).revision, { commit, dirty: true }, "the whole checkout");
  writeFileSync(path.join(app, "index.php"), "<?php // changed\n");
  assert.deepEqual((await sourceFacts(stageOf(app))).revision, { commit, dirty: true }, "inside");
  git("checkout", "-q", "--detach", "HEAD~1");
  const detached = git("rev-parse", "HEAD");
  assert.deepEqual((await sourceFacts(stageOf(app))).revision, { commit: detached, dirty: true }, "detached");
});
