import { spawn } from "node:child_process";
import type { Transfer } from "../plan/steps.js";
import type { RunOptions, TransferStats } from "./executor.js";
import { TransportError } from "./executor.js";

/**
 * rsync argv for a transfer; `destination` is the target path as rsync should see it (maybe host:path).
 * mtimes compare to the nanosecond (--modify-window=-1), so an edit that keeps size and second is
 * never missed; "checksum" compares content and does not keep mtimes, so a fresh checkout (all
 * mtimes new) still hard-links every unchanged file.
 */
export function rsyncArgs(t: Transfer, destination: string, extra: readonly string[] = []): string[] {
  const mode = t.compare === "checksum" ? ["-rlpgoD", "--checksum"] : ["-a", "--modify-window=-1"];
  // A release's directories take the host's time, never the source's (the clock here may be ahead):
  // the delta check reads a directory of the previous release newer than its manifest as changed since.
  const live = t.live ? ["--delay-updates", "--delete-delay"] : t.dirTimes ? [] : ["--omit-dir-times"];
  const listed = t.filesFrom ? ["--no-r", "--no-implied-dirs", `--files-from=${t.filesFrom}`, "--from0"] : [];
  const args = [...mode, ...live, ...listed, "--stats", ...extra];
  for (const pattern of t.exclude) args.push(`--exclude=${pattern}`);
  // rsync protects its delay directories from deletion, so what a stopped upload left complete in
  // a .~tmp~ would outlive every later upload. Nothing in the live copy outside the excluded paths
  // (listed first: their .~tmp~ stay the app's) is anyone's but the build's, and no build has a
  // .~tmp~ (rsync never sends one): these are rsync's, removed after this upload's renames.
  if (t.live) args.push("--filter=R .~tmp~/");
  for (const dir of t.linkDest) args.push(`--link-dest=${dir}`);
  if (t.directory) args.push(`${t.from.replace(/\/+$/, "")}/`, `${destination.replace(/\/+$/, "")}/`);
  else args.push(t.from, destination);
  return args;
}

function statNumber(stats: string, label: string): number {
  const m = new RegExp(`${label}: ([\\d,]+)`).exec(stats);
  return m ? Number(m[1]!.replace(/,/g, "")) : 0;
}

export function parseRsyncStats(stats: string): TransferStats {
  return {
    files: statNumber(stats, "Number of files"),
    filesTransferred: statNumber(stats, "Number of regular files transferred"),
    bytesTransferred: statNumber(stats, "Total transferred file size"),
  };
}

/**
 * rsync under a watchdog: a read of a pipe only this process writes to (nothing ever is). A signal
 * cutover hears stops the group itself; when cutover is gone without a word (SIGKILL, OOM) the read
 * ends and the watchdog kills its process group (rsync, its ssh, the shell: nothing else), which
 * would otherwise go on writing into the target (the live directory, with in-place) unlocked,
 * beside the next run's upload. After rsync ends the watchdog is stopped and reaped.
 */
const WATCHED = `exec 3<&0
rsync "$@" </dev/null 3<&- &
r=$!
{ read -r _ <&3; kill -KILL 0; } </dev/null &
w=$!
wait "$r"; s=$?
kill "$w" 2>/dev/null; wait "$w"
exit "$s"
`;

/** `sh` found no rsync to run. */
const NOT_FOUND = 127;

/** Runs rsync on this machine, in its own process group so it can be stopped as a whole. */
export function runRsync(
  host: string,
  args: readonly string[],
  options: RunOptions & { signal?: AbortSignal } = {},
): Promise<TransferStats> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", WATCHED, "rsync", ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    let out = "";
    let err = "";
    // Heard first: a spawn without descriptors left has no pipes (see ShellSession.start).
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(new TransportError(host, `cannot run rsync: ${e.message}`, "install rsync on this machine"));
    });
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr?.on("data", (c: Buffer) => {
      err += c.toString();
      for (const line of c.toString().split("\n")) if (line) options.onLine?.("stderr", line);
    });
    const kill = () => {
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {}
      }
    };
    const timer = options.timeoutMs ? setTimeout(kill, options.timeoutMs) : undefined;
    options.signal?.addEventListener("abort", kill, { once: true });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener("abort", kill);
      if (code === 0) resolve(parseRsyncStats(out));
      else if (code === NOT_FOUND)
        reject(new TransportError(host, "cannot run rsync: not found", "install rsync on this machine"));
      else
        reject(
          new TransportError(
            host,
            `rsync failed (${signal ? `killed by ${signal}` : `exit ${code}`})`,
            err.trim().split("\n").slice(-8).join("\n"),
          ),
        );
    });
  });
}
