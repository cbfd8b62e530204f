import { lstatSync, mkdtempSync, readdirSync, rmdirSync, type Stats, statSync, unlinkSync } from "node:fs";
import path from "node:path";
import { usageError } from "../errors.js";

const NAME = /^cutover-(\d+)-[A-Za-z0-9]{6}$/;
const SOCKET = /^c\d+$/;
/** A run in another PID namespace sharing this tmp looks gone: only a day-old directory is taken for left. */
const LEFT_MS = 24 * 60 * 60 * 1000;

/**
 * A private directory in `tmp` for this run's SSH control sockets (a short path: socket names are
 * limited to ~100 bytes), named with this process's id. A run killed by SIGKILL skips every
 * cleanup, so each run first removes what such runs left: a directory of this user's (0700) with
 * that name whose process is gone, unchanged for a day, holding nothing but this user's control
 * sockets (c0, c1, …). Anything else is left as it is.
 */
export function makeControlDir(tmp: string): string {
  removeLeftByDeadRuns(tmp);
  try {
    return mkdtempSync(path.join(tmp, `cutover-${process.pid}-`));
  } catch (error) {
    throw usageError(
      `cannot make a directory for SSH control sockets in ${tmp} (TMPDIR): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      "set TMPDIR to an existing directory this user can write, or unset it",
    );
  }
}

function removeLeftByDeadRuns(tmp: string): void {
  let names: string[];
  try {
    // Where others may rename entries (writable by them, not sticky), a directory checked here
    // could be another by the time it is emptied: nothing is removed.
    const st = statSync(tmp);
    if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) return;
    names = readdirSync(tmp);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(NAME.exec(name)?.[1] ?? Number.NaN);
    if (!Number.isSafeInteger(pid) || pid <= 0 || running(pid)) continue;
    const dir = path.join(tmp, name);
    try {
      const st = lstatSync(dir);
      // 0700, as mkdtemp makes it: no one else could have put anything in it.
      if (!st.isDirectory() || !mine(st) || (st.mode & 0o777) !== 0o700 || Date.now() - st.mtimeMs < LEFT_MS)
        continue;
      const entries = readdirSync(dir);
      if (!entries.every((e) => SOCKET.test(e) && isMySocket(lstatSync(path.join(dir, e))))) continue;
      for (const e of entries) unlinkSync(path.join(dir, e));
      rmdirSync(dir);
    } catch {
      // Changed meanwhile (another run removing it too): left for the next run.
    }
  }
}

const mine = (st: Stats) => st.uid === process.getuid?.();
const isMySocket = (st: Stats) => st.isSocket() && mine(st);

/** Whether a process with this id exists (one of another user's counts: EPERM). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}
