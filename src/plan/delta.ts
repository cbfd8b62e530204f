import { chunkArgs } from "../shell/chunks.js";
import { type Cmd, shProgram } from "../shell/cmd.js";
import type { ManifestEntry } from "./diff.js";
import { parseHashes } from "./manifest.js";

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

/** The source's directories, then its unchanged files hard-linked from the previous release. */
export function linkCmds(previousDir: string, newDir: string, decision: DeltaDecision): Cmd[] {
  const dirs = decision.dirs.map((d) => d.path).filter((p) => p !== ".");
  return [
    ...chunked(MAKE_DIRS, [newDir], dirs, "make directories"),
    ...chunked(LINK, [previousDir, newDir], decision.link, "link unchanged files"),
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

/** The new release and the previous one's files, as the host sees them (find never follows links). */
/**
 * The new release (with the hashes of the files cutover wrote itself), the previous release's
 * files changed since its manifest was written (an edit in place keeps the inode but not the
 * mtime; like rsync's quick check, an mtime set back is not seen), and its files' inodes.
 */
const CHECK = `set -e
new=$1 prev=$2 manifest=$3
shift 3
cd -- "$new"
find . -mindepth 1 -printf '%y\\0%m\\0%s\\0%i\\0%p\\0%l\\0'
printf '@@hashes\\0'
[ "$#" -eq 0 ] || sha256sum -z -- "$@"
printf '@@changed\\0'
cd -- "$prev"
if [ -f "$manifest" ] && [ ! -L "$manifest" ]; then find . -type f -newer "$manifest" -printf '%p\\0%T@\\0'
else printf '@@no-manifest\\0\\0'; fi
printf '@@previous\\0'
find . -type f -printf '%i\\0%p\\0'
`;

export function deltaCheckProbe(
  newDir: string,
  previous: { readonly dir: string; readonly manifest: string },
  written: readonly string[] = [],
): Cmd {
  return shProgram(CHECK, [newDir, previous.dir, previous.manifest, ...written.map((p) => `./${p}`)], {
    label: "check the new release",
  });
}

/** find's %T@ ("seconds.fraction", 10 digits) as "seconds.nanoseconds". */
function findTime(t: string): string {
  const [sec = "", frac = ""] = t.split(".");
  return `${sec}.${frac.padEnd(9, "0").slice(0, 9)}`;
}

/**
 * What differs between the host's listing and what the delta meant to build (at most `limit`
 * findings): a missing or extra entry, another type, mode, size or link target, a file cutover
 * wrote whose content is not the source's, or a linked file whose inode is not the previous
 * release's file at the same path. Markers count only where a record starts (types are one letter).
 */
export function checkDelta(
  output: string,
  source: readonly SourceEntry[],
  linked: readonly string[],
  written: readonly string[] = [],
  /** The source file's mtime as "seconds.nanoseconds" (read only for the few files the host reports changed). */
  sourceMtime: (path: string) => string | undefined = () => undefined,
  limit = 5,
): string[] {
  const fields = output.split("\0");
  const found = new Map<string, { type: string; mode: string; size: number; inode: string; link: string }>();
  let i = 0;
  for (; i + 5 < fields.length && fields[i] !== "@@hashes"; i += 6) {
    const [type, mode, size, inode, p, link] = fields.slice(i, i + 6) as string[];
    found.set(p!.slice(2), { type: type!, mode: mode!, size: Number(size), inode: inode!, link: link! });
  }
  const hashRecords: string[] = [];
  if (fields[i] === "@@hashes")
    for (i += 1; i < fields.length && fields[i] !== "@@changed"; i += 1) hashRecords.push(fields[i]!);
  // Path and mtime of each file changed after the manifest was written.
  const changed = new Map<string, string>();
  if (fields[i] === "@@changed")
    for (i += 1; i < fields.length && fields[i] !== "@@previous"; i += 2)
      changed.set(fields[i]!, fields[i + 1] ?? "");
  if (fields[i] !== "@@previous") return ["the host's listing of the new release is cut short"];
  const previousInode = new Map<string, string>();
  for (i += 1; i + 1 < fields.length; i += 2) previousInode.set(fields[i + 1]!.slice(2), fields[i]!);
  const hashes = parseHashes(hashRecords);

  const problems: string[] = [];
  const note = (p: string, what: string) => {
    if (problems.length < limit) problems.push(`${p}: ${what}`);
  };
  const expected = new Set<string>();
  for (const e of source) {
    if (e.path === ".") continue;
    expected.add(e.path);
    const got = found.get(e.path);
    const type = e.type === "o" ? undefined : e.type;
    if (!got) note(e.path, "missing");
    else if (type !== undefined && got.type !== type) note(e.path, `is a ${got.type}, not a ${type}`);
    else if (e.type !== "l" && got.mode !== e.mode) note(e.path, `mode ${got.mode}, not ${e.mode}`);
    else if (e.type === "f" && got.size !== e.size) note(e.path, `${got.size} bytes, not ${e.size}`);
    else if (e.type === "l" && got.link !== e.link) note(e.path, "another link target");
  }
  if (changed.has("@@no-manifest")) note(".", "the previous release has no manifest file");
  for (const p of linked) {
    // A file the source gave a future mtime is newer than the manifest too: that mtime is no change.
    const was = changed.get(`./${p}`);
    if (was !== undefined && findTime(was) !== sourceMtime(p))
      note(p, "changed in the previous release after its manifest was written");
    const inode = previousInode.get(p);
    if (inode === undefined || found.get(p)?.inode !== inode)
      note(p, "not linked to the previous release's file at that path");
  }
  const want = new Map(source.map((e) => [e.path, e.hash]));
  for (const p of written) if (hashes.get(`./${p}`) !== want.get(p)) note(p, "content is not the source's");
  for (const p of found.keys()) if (!expected.has(p)) note(p, "not in the source");
  return problems;
}
