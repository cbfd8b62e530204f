import { lstatSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { usageError } from "../errors.js";
import { safeDirs } from "./control-socket.js";
import { privateDir } from "./private-cache.js";

/** What a run keeps in a scratch directory: SSH control sockets, a list of files to send, a local build, rsync's list. */
export type RunDirKind = "ssh" | "send" | "build" | "list";

const NAME = /^(?:ssh|send|build|list)-(\d+)-[A-Za-z0-9]{6}$/;
/** A run in another PID namespace sharing this tmp looks gone: only a day-old directory is taken for left. */
const LEFT_MS = 24 * 60 * 60 * 1000;
/** Roots this process has swept: once each is enough. */
const swept = new Set<string>();

/**
 * A new scratch directory of this run's (0700), named with its kind and this process's id, in
 * $TMPDIR/cutover-<uid>: a directory only this user can use (see privateDir), where no one else can
 * create, rename or remove entries. A run killed by SIGKILL skips every cleanup, so the first one
 * made in a process removes what such runs left there: a directory of this user's so named whose
 * process is gone, unchanged for a day. Where that root cannot be had (TMPDIR, a directory above
 * it or a link on the way another user's, or writable by others and not sticky; or the name taken
 * by something not ours), the directory is made in TMPDIR itself and nothing is removed.
 */
export function makeRunDir(kind: RunDirKind, tmp = os.tmpdir()): string {
  const root = userRoot(tmp);
  if (root && !swept.has(root)) {
    swept.add(root);
    removeLeftByDeadRuns(root);
  }
  try {
    return mkdtempSync(
      root ? path.join(root, `${kind}-${process.pid}-`) : path.join(tmp, `cutover-${kind}-${process.pid}-`),
    );
  } catch (error) {
    throw usageError(
      `cannot make a scratch directory in ${tmp} (TMPDIR): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      "set TMPDIR to an existing directory this user can write, or unset it",
    );
  }
}

function userRoot(tmp: string): string | undefined {
  // Where another user may rename entries (in TMPDIR or above it, or a link on the way), ours could
  // be swapped for theirs: TMPDIR and every directory above it root's or this user's, writable by
  // no one else unless sticky (see control-socket.ts), and so every link on the way.
  if (!safeDirs(tmp) || !safeLinks(tmp)) return undefined;
  return privateDir(path.join(tmp, `cutover-${process.getuid?.() ?? "user"}`));
}

/**
 * Every link the kernel follows on the way to `tmp` (those in link targets too) is root's or this
 * user's, in a directory as safe (see safeDirs).
 */
function safeLinks(tmp: string): boolean {
  const me = process.getuid?.();
  const parts = (p: string) => p.split("/").filter((x) => x !== "" && x !== ".");
  const rest = parts(path.isAbsolute(tmp) ? tmp : `${process.cwd()}/${tmp}`);
  // No link before it: `at` is a real path, so ".." is its parent.
  let at = "/";
  let links = 0;
  try {
    for (let part = rest.shift(); part !== undefined; part = rest.shift()) {
      if (part === "..") {
        at = path.dirname(at);
        continue;
      }
      const next = path.join(at, part);
      const s = lstatSync(next);
      if (!s.isSymbolicLink()) {
        at = next;
        continue;
      }
      if (++links > 40 || (s.uid !== 0 && s.uid !== me) || !safeDirs(at)) return false;
      const target = readlinkSync(next);
      if (path.isAbsolute(target)) at = "/";
      rest.unshift(...parts(target));
    }
    return true;
  } catch {
    return false;
  }
}

function removeLeftByDeadRuns(root: string): void {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(NAME.exec(name)?.[1] ?? Number.NaN);
    if (!Number.isSafeInteger(pid) || pid <= 0 || running(pid)) continue;
    const dir = path.join(root, name);
    try {
      const st = lstatSync(dir);
      if (!st.isDirectory() || st.uid !== process.getuid?.() || Date.now() - st.mtimeMs < LEFT_MS) continue;
      // Links inside are removed, never followed.
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Changed meanwhile (another run removing it too): left for the next run.
    }
  }
}

/** Whether a process with this id exists (one of another user's counts: EPERM). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}
