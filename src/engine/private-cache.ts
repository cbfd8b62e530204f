import { randomBytes } from "node:crypto";
import { lstatSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * A directory of cutover's cache on the deploying machine ($XDG_CACHE_HOME/cutover/<name>, else
 * ~/.cache/cutover/<name>), private to this user: made 0700, and used only if it is a real directory
 * of this user's that nobody else may write (another user could plant entries or links there).
 * Undefined (no cache: everything is read again) when there is no such directory.
 */
export function privateCacheDir(name: string): string | undefined {
  let base = process.env.XDG_CACHE_HOME;
  if (!base || !path.isAbsolute(base)) {
    try {
      base = path.join(os.homedir(), ".cache");
    } catch {
      return undefined;
    }
  }
  const dir = path.join(base, "cutover", name);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const s = lstatSync(dir);
    if (!s.isDirectory() || s.uid !== process.getuid?.() || (s.mode & 0o077) !== 0) return undefined;
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

/** Replaces `file` atomically with `data` (mode 0600), through a new file of a random name. */
export function writePrivate(file: string, data: string | Buffer): void {
  const tmp = path.join(path.dirname(file), `.tmp-${randomBytes(8).toString("hex")}`);
  try {
    writeFileSync(tmp, data, { flag: "wx", mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    try {
      unlinkSync(tmp);
    } catch {}
  }
}
