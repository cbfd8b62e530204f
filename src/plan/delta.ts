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
}

export interface DeltaDecision {
  /** Files linked from the previous release. */
  readonly link: readonly string[];
  /** Made on the host, then given their modes when everything is in them; the root is ".". */
  readonly dirs: readonly { readonly path: string; readonly mode: string }[];
  /** What rsync sends: files not linked, symlinks, other entries. */
  readonly send: readonly string[];
  readonly sendBytes: number;
}

export function decideDelta(
  source: readonly SourceEntry[],
  previous: ReadonlyMap<string, ManifestEntry>,
): DeltaDecision {
  const link: string[] = [];
  const dirs: { path: string; mode: string }[] = [];
  const send: string[] = [];
  let sendBytes = 0;
  for (const e of source) {
    const was = e.type === "f" ? previous.get(e.path) : undefined;
    if (e.type === "d") dirs.push({ path: e.path, mode: e.mode });
    else if (was?.type === "f" && was.mode === e.mode && e.hash !== undefined && was.hash === e.hash) {
      link.push(e.path);
    } else {
      send.push(e.path);
      if (e.type === "f") sendBytes += e.size;
    }
  }
  return { link, dirs, send, sendBytes };
}

/** Keeps each `sh -c` far below Linux's 128 KiB limit for one argument and 2 MiB in all. */
const CHUNK_BYTES = 96_000;

/** `program` run over `items` in as few commands as fit, each with `fixed` arguments first. */
function chunked(program: string, fixed: readonly string[], items: readonly string[], label: string): Cmd[] {
  const cmds: Cmd[] = [];
  let chunk: string[] = [];
  let bytes = 0;
  const flush = () => {
    if (chunk.length > 0) cmds.push(shProgram(program, [...fixed, ...chunk], { label }));
    chunk = [];
    bytes = 0;
  };
  for (const item of items) {
    if (bytes + item.length > CHUNK_BYTES) flush();
    chunk.push(item);
    bytes += item.length + 1;
  }
  flush();
  return cmds;
}

const MAKE_DIRS = `set -e
cd -- "$1"
shift
mkdir -p -- "$@"
`;

const LINK = `set -e
prev=$1 new=$2
shift 2
cd -- "$prev"
cp -l --parents -t "$new" -- "$@"
`;

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

/** The new release and the previous one's files, as the host sees them (find never follows links). */
const CHECK = `set -e
cd -- "$1"
find . -mindepth 1 -printf '%y\\0%m\\0%s\\0%i\\0%p\\0%l\\0'
printf '@@previous\\0'
cd -- "$2"
find . -type f -printf '%i\\0%p\\0'
`;

export function deltaCheckProbe(newDir: string, previousDir: string): Cmd {
  return shProgram(CHECK, [newDir, previousDir], { label: "check the new release" });
}

/**
 * What differs between the host's listing and what the delta meant to build (at most `limit`
 * findings): a missing or extra entry, another type, mode, size or link target, or a linked file
 * whose inode is not the previous release's file at the same path.
 */
export function checkDelta(
  output: string,
  source: readonly SourceEntry[],
  linked: readonly string[],
  limit = 5,
): string[] {
  const fields = output.split("\0");
  const found = new Map<string, { type: string; mode: string; size: number; inode: string; link: string }>();
  let i = 0;
  for (; i + 5 < fields.length && fields[i] !== "@@previous"; i += 6) {
    const [type, mode, size, inode, p, link] = fields.slice(i, i + 6) as string[];
    found.set(p!.slice(2), { type: type!, mode: mode!, size: Number(size), inode: inode!, link: link! });
  }
  if (fields[i] !== "@@previous") return ["the host's listing of the new release is cut short"];
  const previousInode = new Map<string, string>();
  for (i += 1; i + 1 < fields.length; i += 2) previousInode.set(fields[i + 1]!.slice(2), fields[i]!);

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
  for (const p of linked) {
    const inode = previousInode.get(p);
    if (inode === undefined || found.get(p)?.inode !== inode)
      note(p, "not linked to the previous release's file at that path");
  }
  for (const p of found.keys()) if (!expected.has(p)) note(p, "not in the source");
  return problems;
}
