import path from "node:path/posix";
import { type Cmd, shProgram } from "../shell/cmd.js";
import type { SourceEntry } from "./delta.js";
import type { ManifestEntry } from "./diff.js";
import { type Entry, type Listing, parseHashes } from "./manifest.js";

/**
 * The new release (in the manifest listing's record format, with the hashes of the files cutover
 * wrote itself), then, in one walk of the previous release, its files and directories changed
 * since its manifest was written (an edit in place keeps the inode but not the mtime; a file
 * renamed keeps its mtime, but not its directory's; like rsync's quick check, an mtime set back is
 * not seen) as "c" records and its files' inodes as "i" records, ended by "@@previous". find never
 * follows links.
 */
const CHECK = `set -e
new=$1 prev=$2 manifest=$3
shift 3
cd -- "$new"
find . -mindepth 1 -printf '%y\\0%m\\0%s\\0%p\\0%l\\0%i\\0%n\\0'
printf '@@hashes\\0'
[ "$#" -eq 0 ] || sha256sum -z -- "$@"
printf '@@changed\\0'
cd -- "$prev"
if [ -f "$manifest" ] && [ ! -L "$manifest" ]; then
  find . \\( \\( -type f -o -type d \\) -newer "$manifest" -printf 'c\\0%p\\0%T@\\0' \\) , \\
    \\( -type f -printf 'i\\0%i\\0%p\\0' \\)
else
  printf '@@no-manifest\\0\\0'
  find . -type f -printf 'i\\0%i\\0%p\\0'
fi
printf '@@previous\\0'
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

/** The check's output, read. */
export interface DeltaCheck {
  /** The new release's entries by release-relative path (no "./"). */
  readonly found: ReadonlyMap<string, Entry>;
  /** Hashes of the files cutover wrote, by "./path". */
  readonly hashes: ReadonlyMap<string, string>;
  /** Previous release's files and directories changed after its manifest was written ("./path" or "."): find's mtime. */
  readonly changed: ReadonlyMap<string, string>;
  /** Previous release's files: path (no "./") to inode; undefined when the output was cut short. */
  readonly previousInode: ReadonlyMap<string, string> | undefined;
  /** What the commands after `aheadMarker` printed; undefined when the marker is not there. */
  readonly ahead: string | undefined;
}

/** Ends the check's output when commands run ahead in its round trip (see deltaUpload). */
export const aheadMarker: Cmd = shProgram("printf '@@ahead\\000'", [], { label: "the release is checked" });

/** Markers count only where a record starts (types are one letter, hashes hex), so no name forges one. */
export function parseDeltaCheck(output: string): DeltaCheck {
  const fields = output.split("\0");
  const found = new Map<string, Entry>();
  let i = 0;
  for (; i + 6 < fields.length && fields[i] !== "@@hashes"; i += 7) {
    const path = fields[i + 3]!;
    found.set(path.slice(2), {
      type: fields[i]!,
      mode: fields[i + 1]!,
      size: Number(fields[i + 2]),
      path,
      link: fields[i + 4]!,
      inode: fields[i + 5]!,
      links: Number(fields[i + 6]),
    });
  }
  const hashRecords: string[] = [];
  if (fields[i] === "@@hashes")
    for (i += 1; i < fields.length && fields[i] !== "@@changed"; i += 1) hashRecords.push(fields[i]!);
  const changed = new Map<string, string>();
  let previousInode: Map<string, string> | undefined;
  let ahead: string | undefined;
  if (fields[i] === "@@changed") {
    const inodes = new Map<string, string>();
    for (i += 1; i + 1 < fields.length; ) {
      const tag = fields[i];
      if (tag === "c" || tag === "i") {
        if (i + 2 >= fields.length) break;
        if (tag === "c") changed.set(fields[i + 1]!, fields[i + 2]!);
        else inodes.set(fields[i + 2]!.slice(2), fields[i + 1]!);
        i += 3;
      } else if (tag === "@@no-manifest") {
        changed.set(tag, "");
        i += 2;
      } else break;
    }
    // Only a walk that ran to its end lists every file.
    if (fields[i] === "@@previous") {
      previousInode = inodes;
      if (fields[i + 1] === "@@ahead") ahead = fields.slice(i + 2).join("\0");
    }
  }
  return { found, hashes: parseHashes(hashRecords), changed, previousInode, ahead };
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
 * release's file at the same path, or which is in a directory changed there since its manifest
 * (a name renamed over another keeps the inode the path now has, and its old mtime).
 */
export function checkDelta(
  check: DeltaCheck,
  source: readonly SourceEntry[],
  linked: readonly string[],
  written: readonly string[] = [],
  /** The source file's mtime as "seconds.nanoseconds" (read only for the few files the host reports changed). */
  sourceMtime: (path: string) => string | undefined = () => undefined,
  limit = 5,
): string[] {
  const { found, hashes, changed, previousInode } = check;
  if (!previousInode) return ["the host's listing of the new release is cut short"];
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
  // An entry the source gave a future mtime (rsync keeps a directory's) is newer than the manifest
  // too: that mtime is no change.
  const since = (p: string) => {
    const was = changed.get(p === "." ? "." : `./${p}`);
    return was !== undefined && findTime(was) !== sourceMtime(p);
  };
  const dirChanged = new Map<string, boolean>();
  const inChangedDir = (p: string): boolean => {
    const dir = path.dirname(p);
    let known = dirChanged.get(dir);
    if (known === undefined) {
      known = since(dir) || (dir !== "." && inChangedDir(dir));
      dirChanged.set(dir, known);
    }
    return known;
  };
  for (const p of linked) {
    if (changed.size > 0 && since(p))
      note(p, "changed in the previous release after its manifest was written");
    const inode = previousInode.get(p);
    if (inode === undefined || found.get(p)?.inode !== inode)
      note(p, "not linked to the previous release's file at that path");
  }
  // After the findings above, which name what changed (a directory made a link changes its parent).
  if (changed.size > 0)
    for (const p of linked)
      if (inChangedDir(p))
        note(
          p,
          "its directory changed in the previous release after its manifest was written (an entry added, removed or renamed there: the app should write only in shared paths and writable_dirs)",
        );
  if (written.length > 0) {
    const want = new Map(source.map((e) => [e.path, e.hash]));
    for (const p of written) if (hashes.get(`./${p}`) !== want.get(p)) note(p, "content is not the source's");
  }
  for (const p of found.keys()) if (!expected.has(p)) note(p, "not in the source");
  return problems;
}

/**
 * The listing checkedListing gives if the check passes, known before the upload: the source's
 * entries, the hashes of the files cutover writes itself (`written`) and of the linked ones.
 */
export function predictedListing(
  source: readonly SourceEntry[],
  linked: readonly string[],
  written: readonly string[],
  previous: ReadonlyMap<string, ManifestEntry>,
): Listing {
  const entries: Entry[] = [];
  const hashes = new Map<string, string>();
  const writes = new Set(written);
  for (const e of source) {
    if (e.path === ".") continue;
    const path = `./${e.path}`;
    entries.push({ type: e.type, mode: e.mode, size: e.size, path, link: e.link ?? "", inode: "", links: 1 });
    if (writes.has(e.path)) hashes.set(path, e.hash ?? "");
  }
  return { entries, ...linkedHashes(linked, previous, hashes) };
}

/**
 * True when predictedListing gives the manifest a passing check's listing gives: every source
 * entry's type is known here (a fifo, socket or device is "o" in the source's index; only the
 * host's listing tells which it is).
 */
export const predictionExact = (source: readonly SourceEntry[]): boolean =>
  !source.some((e) => e.type === "o");

/**
 * The new release as the seal would list it, from a check that passed: each linked file takes the
 * hash the previous release's manifest records for it (the check proved it is that file, unchanged
 * since), each file cutover wrote the hash the host computed; files rsync sent have none yet.
 */
export function checkedListing(
  check: DeltaCheck,
  linked: readonly string[],
  previous: ReadonlyMap<string, ManifestEntry>,
): Listing {
  return { entries: [...check.found.values()], ...linkedHashes(linked, previous, new Map(check.hashes)) };
}

/** `hashes` with each linked file's hash from the previous release's manifest, and those reused. */
function linkedHashes(
  linked: readonly string[],
  previous: ReadonlyMap<string, ManifestEntry>,
  hashes: Map<string, string>,
): Pick<Listing, "hashes" | "reused"> {
  const reused = new Map<string, string>();
  for (const p of linked) {
    const was = previous.get(p);
    if (was?.type !== "f" || !was.hash) continue;
    const path = `./${p}`;
    hashes.set(path, was.hash);
    reused.set(path, path);
  }
  return { hashes, reused };
}
