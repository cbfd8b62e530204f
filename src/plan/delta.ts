import { chunkArgs } from "../shell/chunks.js";
import { type Cmd, shProgram } from "../shell/cmd.js";
import type { ManifestEntry } from "./diff.js";

/**
 * A delta upload builds the new release from the previous one: every file whose content and mode
 * the previous release's manifest already records is hard-linked from it on the host, and only the
 * rest (changed files, directories, symlinks) is sent. The deploying machine decides from the
 * source's own hashes, so a fresh checkout (new mtimes, same content) still sends nothing it need
 * not. A check of the result on the host proves each link came from the previous release's own
 * file at that path (same inode) and that the tree is exactly the source's before anything else runs.
 */

/** One entry of the source as rsync would send it ("." is the root). */
export interface SourceEntry {
  readonly path: string;
  /** f file, d directory, l symlink, o anything else (fifo, socket, device). */
  readonly type: "f" | "d" | "l" | "o";
  /** Permission bits in octal, as find's %m prints them. */
  readonly mode: string;
  readonly size: number;
  readonly link?: string;
  readonly hash?: string;
  /** Files: the mtime as "seconds.nanoseconds", to see a change since indexing. */
  readonly mtime?: string;
  /** Owned by the deploying user and their primary group (what the host's login gives new files too). */
  readonly own: boolean;
}

export interface DeltaDecision {
  /** Files linked from the previous release. */
  readonly link: readonly string[];
  /** Made on the host, then given their modes when everything is in them; the root is ".". */
  readonly dirs: readonly { readonly path: string; readonly mode: string }[];
  /** What rsync sends: files not linked, symlinks, other entries. */
  readonly send: readonly string[];
  /**
   * Some entry belongs to another owner or group: rsync then sends the directories too (it sets
   * owner and group as with any upload), and nothing is written inline.
   */
  readonly foreignOwners: boolean;
}

export function decideDelta(
  source: readonly SourceEntry[],
  previous: ReadonlyMap<string, ManifestEntry>,
): DeltaDecision {
  const link: string[] = [];
  const dirs: { path: string; mode: string }[] = [];
  const send: string[] = [];
  let foreignOwners = false;
  for (const e of source) {
    if (!e.own) foreignOwners = true;
    const was = e.type === "f" ? previous.get(e.path) : undefined;
    if (e.type === "d") dirs.push({ path: e.path, mode: e.mode });
    else if (was?.type === "f" && was.mode === e.mode && e.hash !== undefined && was.hash === e.hash) {
      link.push(e.path);
    } else send.push(e.path);
  }
  return { link, dirs, send, foreignOwners };
}

/** What rsync sends: with other owners, the directories as well (the root as "."). */
export function rsyncList(decision: DeltaDecision): string[] {
  const dirs = decision.foreignOwners ? decision.dirs.map((d) => d.path) : [];
  // "./": rsync's --files-from takes a line starting with # or ; for a comment.
  return [...dirs, ...decision.send].map((p) => (p === "." ? "." : `./${p}`));
}

/** `program` run over `items` in as few commands as fit, each with `fixed` arguments first. */
function chunked(program: string, fixed: readonly string[], items: readonly string[], label: string): Cmd[] {
  const budget = 96_000 - fixed.reduce((n, f) => n + Buffer.byteLength(f) + 1, 0);
  return chunkArgs(items, budget).map((chunk) => shProgram(program, [...fixed, ...chunk], { label }));
}

/**
 * Making directories and links is the kernel's work, which two processes share on a host with more
 * than one core (5,000 files on a 2-core VM's disk: ~25% less wall time): `command` runs on the
 * first half of the names in the background and on the rest in the foreground, and the script ends
 * only when both have (xargs -P would return at a child killed by a signal while the other still
 * ran, and the fallback would empty the release under it), failing if either failed.
 */
function inTwoHalves(setup: string, command: string): string {
  return `set -e
${setup}
half=$(( ($# + 1) / 2 ))
printf '%s\\0' "$@" | head -z -n "$half" | xargs -0 -r ${command} -- &
first=$!
status=0
printf '%s\\0' "$@" | tail -z -n +"$((half + 1))" | xargs -0 -r ${command} -- || status=$?
wait "$first" || status=$?
exit "$status"
`;
}

// mkdir -p takes a parent the other half made meanwhile as it is.
const MAKE_DIRS = inTwoHalves('cd -- "$1"\nshift', "mkdir -p");

const LINK = inTwoHalves('prev=$1 new=$2\nshift 2\ncd -- "$prev"', 'cp -l --parents -t "$new"');

/**
 * The source's directories, then its unchanged files hard-linked from the previous release. One
 * command each however many names: a program runs as a subshell of the step's script (no exec, so
 * no argument limit), and only xargs execs, in commands that fit.
 */
export function linkCmds(previousDir: string, newDir: string, decision: DeltaDecision): Cmd[] {
  const dirs = decision.dirs.map((d) => d.path).filter((p) => p !== ".");
  return [
    ...(dirs.length > 0 ? [shProgram(MAKE_DIRS, [newDir, ...dirs], { label: "make directories" })] : []),
    ...(decision.link.length > 0
      ? [shProgram(LINK, [previousDir, newDir, ...decision.link], { label: "link unchanged files" })]
      : []),
  ];
}

const SET_MODE = `set -e
cd -- "$1"
mode=$2
shift 2
chmod -- "$mode" "$@"
`;

/** Directory modes, set last: a read-only directory takes nothing in once it has its mode. */
export function dirModeCmds(newDir: string, decision: DeltaDecision): Cmd[] {
  const byMode = new Map<string, string[]>();
  for (const d of decision.dirs) {
    const paths = byMode.get(d.mode) ?? [];
    paths.push(d.path);
    byMode.set(d.mode, paths);
  }
  // Five digits: GNU chmod keeps a directory's setgid bit on "755" and clears it only on "00755".
  return [...byMode].flatMap(([mode, paths]) =>
    chunked(SET_MODE, [newDir, mode.padStart(5, "0")], paths, "set directory modes"),
  );
}

/** A change this small is written in the round trip that links: no rsync process pair and channel for it. */
const INLINE = { entries: 16, fileBytes: 64 * 1024, totalBytes: 256 * 1024 };

/** What cutover writes itself: a file (its content in base64) or a symlink. */
export type Written =
  | {
      readonly type: "f";
      readonly path: string;
      readonly mode: string;
      readonly mtime: string;
      readonly base64: string;
    }
  | { readonly type: "l"; readonly path: string; readonly link: string };

/**
 * True if the entries to send are few and small enough files and symlinks to write inline. Only
 * world-readable files: their content passes through the host's process arguments (and, for a
 * large script, a temp file), which other users there can read.
 */
export function inlineable(decision: DeltaDecision, entries: readonly SourceEntry[]): boolean {
  if (decision.foreignOwners || entries.length > INLINE.entries) return false;
  let total = 0;
  for (const e of entries) {
    if (e.type === "l") continue;
    if (e.type !== "f" || e.size > INLINE.fileBytes || e.mtime === undefined || e.mtime.startsWith("-"))
      return false;
    if ((Number.parseInt(e.mode, 8) & 0o004) === 0) return false;
    total += e.size;
  }
  return total <= INLINE.totalBytes;
}

// noclobber: each name is created here, never written through something already there.
const WRITE = `set -e
cd -- "$1"
shift
set -C
while [ "$#" -ge 5 ]; do
  kind=$1 p=$2 a=$3 b=$4 c=$5
  shift 5
  if [ "$kind" = l ]; then
    ln -s -- "$a" "$p"
  else
    printf '%s' "$c" | base64 -d > "$p"
    chmod -- "$a" "$p"
    touch -m -d "@$b" -- "$p"
  fi
done
`;

/** Writes files and symlinks into the new release (their directories exist), content as arguments. */
export function writeCmds(newDir: string, written: readonly Written[]): Cmd[] {
  if (written.length === 0) return [];
  const args = written.flatMap((w) =>
    w.type === "l"
      ? ["l", w.path, w.link, "", ""]
      : ["f", w.path, w.mode.padStart(4, "0"), w.mtime, w.base64],
  );
  return [shProgram(WRITE, [newDir, ...args], { label: "write changed files" })];
}
