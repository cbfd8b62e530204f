import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const made: string[] = [];
// At the test file's exit, wherever this was first imported from (a node:test hook would belong to
// the test that happened to be running then).
process.once("exit", () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temp dir, removed when the test file's process exits. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/**
 * cutover's caches (hashes, manifests) for this test file only: deploys run in this process and the
 * CLIs it starts use a scratch dir, not the user's ~/.cache, and no other test file's entries.
 */
export function ownCaches(): void {
  process.env.XDG_CACHE_HOME = scratchDir("cutover-cache-");
}
