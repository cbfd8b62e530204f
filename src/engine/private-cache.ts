import { randomBytes } from "node:crypto";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * A directory of cutover's cache on the deploying machine ($XDG_CACHE_HOME/cutover/<name>, else
 * ~/.cache/cutover/<name>), private to this user: made 0700 (an open one of ours is closed), and
 * used only if it is a real directory of this user's that nobody else could write (another user
 * could have planted entries or links there).
 * Undefined (no cache: everything is read again) when there is no such directory; `create: false`
 * only looks (a run that is refused leaves nothing on this machine).
 */
export function privateCacheDir(name: string, create = true): string | undefined {
  let base = process.env.XDG_CACHE_HOME;
  if (!base || !path.isAbsolute(base)) {
    try {
      base = path.join(os.homedir(), ".cache");
    } catch {
      return undefined;
    }
  }
  return privateDir(path.join(base, "cutover", name), create);
}

/** `dir` (made 0700 with its parents when `create`) if it is a real directory only this user can use. */
export function privateDir(dir: string, create = true): string | undefined {
  try {
    if (create) mkdirSync(dir, { recursive: true, mode: 0o700 });
    let s = lstatSync(dir);
    if (!s.isDirectory() || s.uid !== process.getuid?.()) return undefined;
    if ((s.mode & 0o077) !== 0) {
      // Ours, made open by an umask or by hand: closed now; written by others before, it is not used.
      const writableByOthers = (s.mode & 0o022) !== 0;
      chmodSync(dir, 0o700);
      s = lstatSync(dir);
      if (writableByOthers || (s.mode & 0o077) !== 0) return undefined;
    }
    return dir;
  } catch {
    return undefined;
  }
}

/** A regular file of this user's (never through a link), or undefined. */
export function readPrivate(file: string): Buffer | undefined {
  try {
    const s = lstatSync(file);
    if (!s.isFile() || s.uid !== process.getuid?.()) return undefined;
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Removes `file` if it is a regular file of this user's (never a link or a directory). */
export function removePrivate(file: string): void {
  try {
    const s = lstatSync(file);
    if (s.isFile() && s.uid === process.getuid?.()) unlinkSync(file);
  } catch {}
}

/**
 * Replaces `file` atomically with `data` (mode 0600), through a new file of a random name. A write
 * that fails removes that file only if it made it ("wx" refuses one already there, never ours).
 */
export function writePrivate(file: string, data: string | Buffer): void {
  const tmp = path.join(path.dirname(file), `.tmp-${randomBytes(8).toString("hex")}`);
  let made = false;
  try {
    writeFileSync(tmp, data, { flag: "wx", mode: 0o600 });
    made = true;
    renameSync(tmp, file);
  } catch {
    if (!made) return;
    try {
      unlinkSync(tmp);
    } catch {}
  }
}
