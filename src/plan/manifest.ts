import { createHash } from "node:crypto";
import { CutoverError } from "../errors.js";
import { type Cmd, shProgram } from "../shell/cmd.js";
import { STAMP_LISTING_START } from "./listing-stamp.js";

/** Far above any real manifest (~100 bytes a file). */
export const MANIFEST_LIMIT = 256 * 1024 * 1024;

/** NIST's two-block SHA-256 example and its hash: openssl must answer it right to be used. */
const KNOWN_INPUT = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
const KNOWN_HASH = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";

/**
 * hash_files: the release's files that the find predicates it is given select (all, or the new
 * ones), hashed. Reading and hashing every file is most of a first deploy's listing, so with at
 * least 2 CPUs, 512 to 20,000 files and 8 MiB, two hashers run at once (the 5,000-file, 40 MB app:
 * ~35% less wall time here); fewer files or bytes are not worth the shell's own work, more files
 * would be held in memory. The second half's records go straight out; the first half's are held
 * in base64 (NUL bytes and all) and follow once both halves have ended, so neither cuts into a
 * record of the other's. Markers are records of their own, after find's list (find finished) and
 * after the held half (its hasher succeeded): find prints "./…" and the hashers 64 hex digits
 * first, so no record of theirs, whole or cut, reads as one. The variables are unset first: one
 * exported by the environment would pass the list to every child.
 *
 * The hasher is `openssl dgst -sha256` where it answers a known input right (with the CPU's SHA
 * instructions, ~3x sha256sum's speed on a 2-core VM), else sha256sum. openssl prints a line per
 * file and escapes a name with a newline, so it gets only paths with no newline or backslash
 * (matched byte by byte: LC_ALL=C; sha256sum -z hashes the others first), and each run's lines
 * come as one record after a record "@@openssl" (they hold no NUL), ended by NUL once it
 * succeeded: see parseHashes.
 */
const HASH_FILES = `hash_files() {
  unset hash_list hash_held hash_fast
  nl='
'
  [ "$(printf ${KNOWN_INPUT} | openssl dgst -sha256 -r 2>/dev/null)" != "${KNOWN_HASH} *stdin" ] || hash_fast=1
  if [ -n "$hash_fast" ]; then
    LC_ALL=C find . -type f "$@" \\( -path "*$nl*" -o -path '*\\\\*' \\) -exec sha256sum -z -- {} +
    hash_all() { printf '@@openssl\\0'; LC_ALL=C find . -type f "$@" ! -path "*$nl*" ! -path '*\\\\*' -exec openssl dgst -sha256 -r {} +; printf '\\0'; }
    hash_names_all() { LC_ALL=C find . -type f "$@" ! -path "*$nl*" ! -path '*\\\\*' -print0; }
    hash_each() { printf '@@openssl\\0'; xargs -0 -r openssl dgst -sha256 -r && printf '\\0'; }
  else
    hash_all() { find . -type f "$@" -exec sha256sum -z -- {} +; }
    hash_names_all() { find . -type f "$@" -print0; }
    hash_each() { xargs -0 -r sha256sum -z --; }
  fi
  split=$(find . -type f "$@" -printf '%s\\n' | awk '{ n += 1; b += $1 } END { print ((n >= 512 && n <= 20000 && b >= 8388608) ? n : 0) }')
  if [ "$split" -eq 0 ] || [ "$(nproc 2>/dev/null || echo 1)" -lt 2 ]; then
    hash_all "$@"
  else
    hash_list=$( { hash_names_all "$@" && printf '@@end\\0'; } | base64 -w0)
    hash_names() { printf %s "$hash_list" | base64 -d | head -z -n -1; }
    [ "$(printf %s "$hash_list" | base64 -d | tail -z -n 1 | tr -d '\\000')" = @@end ]
    hash_names | tail -z -n +"$((split / 2 + 1))" | hash_each &
    hash_second=$!
    hash_held=$( { hash_names | head -z -n "$((split / 2))" | hash_each && printf '@@ok\\0'; } | base64 -w0)
    wait "$hash_second"
    [ "$(printf %s "$hash_held" | base64 -d | tail -z -n 1 | tr -d '\\000')" = @@ok ]
    printf %s "$hash_held" | base64 -d | head -z -n -1
  fi
}`;

/**
 * A release manifest lists every entry with its type, mode and content hash (symlinks with their
 * target). Its sha256 is the release checksum. The target only lists and hashes (GNU find,
 * sha256sum -z, NUL-separated so any file name survives); the canonical text is built here.
 *
 * Hashing 40 MB on every deploy would cost more than the upload, so when the previous release's
 * manifest is given, a file hard-linked to that release's file at the same path (same inode) takes
 * its recorded hash, unless that file changed after the manifest was written (an edit in place
 * keeps the inode); only new files are read. Against its own manifest (rollback's check), a file of
 * one link whose ctime is older (no write, nothing renamed over it) keeps its hash too: a release
 * sharing nothing with the live one is not read whole. The manifest is read up to MANIFEST_LIMIT,
 * NULs dropped (a real one has none): a grown one would fill memory; cut, its checksum fails.
 */
const LIST = `set -e
${HASH_FILES}
${STAMP_LISTING_START}
cd -- "$1"
[ -z "$5" ] || stamp_listing_start
printf '@@entries\\0'
find . -mindepth 1 -printf '%y\\0%m\\0%s\\0%p\\0%l\\0%i\\0%n\\0'
printf '@@hashes\\0'
if [ -n "$2" ] && [ -f "$3" ] && [ -d "$2" ]; then
  if [ "$2" = "$1" ]; then
    hash_files -links 1 -cnewer "$3"
    printf '@@previous\\0'
    find . -type f \\( -links +1 ! -newer "$3" -o -links 1 ! -cnewer "$3" \\) -printf '%i\\0%p\\0'
  else
    hash_files -links 1
    printf '@@previous\\0'
    (cd -- "$2" && find . -type f -links +1 ! -newer "$3" -printf '%i\\0%p\\0')
  fi
  printf '@@manifest\\0'
  [ -n "$4" ] || head -c "$6" -- "$3" | tr -d '\\000'
else
  hash_files
fi
`;

/**
 * `haveManifest`: this machine has the previous manifest already (checked by its checksum); it is
 * not sent. `stamp`: the listing is the one a manifest is made from: the release directory's mtime
 * is set to the time it starts (see listing-stamp.ts), which the manifest file then takes.
 */
export function manifestProbe(
  releaseDir: string,
  previous?: { dir: string; manifest: string },
  haveManifest = false,
  stamp = false,
): Cmd {
  return shProgram(LIST, [
    releaseDir,
    previous?.dir ?? "",
    previous?.manifest ?? "",
    haveManifest ? "known" : "",
    stamp ? "stamp" : "",
    String(MANIFEST_LIMIT),
  ]);
}

const HASH = `set -e
cd -- "$1"
shift
for p; do
  if [ -L "$p" ] || [ ! -f "$p" ]; then echo "$p is not a regular file" >&2; exit 3; fi
done
sha256sum -z -- "$@"
`;

/**
 * Hashes the given release-relative paths ("./a/b"); used for files whose hash could not be reused.
 * Only regular files, never through a link: after a delta upload it runs before the deploying
 * machine has read the check (see engine/delta-build.ts), where a fifo or a link to /dev/zero would
 * hold sha256sum until the step's timeout.
 */
export function hashProbe(releaseDir: string, paths: readonly string[]): Cmd {
  return shProgram(HASH, [releaseDir, ...paths]);
}

export interface Entry {
  readonly type: string;
  readonly mode: string;
  readonly size: number;
  readonly path: string;
  readonly link: string;
  readonly inode: string;
  readonly links: number;
}

export interface Listing {
  readonly entries: readonly Entry[];
  readonly hashes: ReadonlyMap<string, string>;
  /** Files whose hash came from the previous release (the same inode), with their path there. */
  readonly reused: ReadonlyMap<string, string>;
}

/**
 * sha256sum -z records ("<hash>  ./path" or "<hash> *./path") by path. A record "@@openssl" is
 * followed by one record of openssl's lines ("<hash> *./path", names with no newline), one each.
 */
export function parseHashes(
  records: readonly string[],
  into = new Map<string, string>(),
): Map<string, string> {
  const add = (record: string) => {
    if (record.length >= 66) into.set(record.slice(66).replace(/^\*/, ""), record.slice(0, 64));
  };
  for (let i = 0; i < records.length; i++) {
    if (records[i] !== "@@openssl") add(records[i]!);
    else for (const line of (records[++i] ?? "").split("\n")) add(line);
  }
  return into;
}

/** A manifest's checksum: the sha256 of its text. */
const checksumOf = (text: string) => `sha256:${createHash("sha256").update(text).digest("hex")}`;

/** Hashes recorded in a manifest text, by "./path". */
function manifestHashes(text: string): Map<string, string> {
  const hashes = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^("(?:[^"\\]|\\.)*") f \d+ ([0-9a-f]{64})$/.exec(line);
    const name = m ? jsonString(m[1]!) : undefined;
    // A line that does not parse (a manifest changed on the host) just reuses no hash: the file is read.
    if (name !== undefined) hashes.set(`./${name}`, m![2]!);
  }
  return hashes;
}

/** A JSON string literal from a manifest line, or undefined when the host's text is not one. */
export function jsonString(text: string): string | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the listing field by field. Section markers are only recognised where a record starts: a
 * file name or symlink target that reads "@@hashes" is data (find prints names as "./…", types are
 * one letter, hashes are hex, inodes are digits), so nothing on the host can cut the manifest short.
 * The previous release's manifest is this machine's copy (`knownManifest`), else the host's, whose
 * hashes are reused only if its sha256 is `checksum` (what that release's metadata records): a
 * manifest changed on the host would put its hashes into the new release's.
 */
export function parseListing(output: string, knownManifest?: string, checksum?: string): Listing {
  const fields = output.split("\0");
  if (fields[0] !== "@@entries") throw new Error("unexpected manifest listing");
  const entries: Entry[] = [];
  let i = 1;
  for (; i < fields.length && fields[i] !== "@@hashes"; i += 7) {
    if (i + 6 >= fields.length) throw new Error("manifest listing cut short");
    entries.push({
      type: fields[i]!,
      mode: fields[i + 1]!,
      size: Number(fields[i + 2]),
      path: fields[i + 3]!,
      link: fields[i + 4]!,
      inode: fields[i + 5]!,
      links: Number(fields[i + 6]),
    });
  }
  if (fields[i] !== "@@hashes") throw new Error("manifest listing has no hashes");
  const hashRecords: string[] = [];
  for (i += 1; i < fields.length && fields[i] !== "@@previous"; i += 1) hashRecords.push(fields[i]!);
  const hashes = parseHashes(hashRecords);
  const reused = new Map<string, string>();
  if (fields[i] === "@@previous") {
    const previousPathOfInode = new Map<string, string>();
    for (i += 1; i < fields.length && fields[i] !== "@@manifest"; i += 2)
      previousPathOfInode.set(fields[i]!, fields[i + 1] ?? "");
    const text = knownManifest ?? fields.slice(i + 1).join("\0");
    const trusted = knownManifest !== undefined || checksum === checksumOf(text);
    const recorded = trusted ? manifestHashes(text) : new Map<string, string>();
    for (const e of entries) {
      if (e.type !== "f" || hashes.has(e.path)) continue;
      // At its own path only: cutover links a file from another release's same path, so an inode
      // the previous release has elsewhere was renamed there since (two files swapped), and the
      // hash its manifest records for that path is another file's.
      const hash = previousPathOfInode.get(e.inode) === e.path ? recorded.get(e.path) : undefined;
      if (hash) {
        hashes.set(e.path, hash);
        reused.set(e.path, e.path);
      }
    }
  }
  return { entries, hashes, reused };
}

/** Files the listing has no hash for (hard-linked to something other than the previous release). */
export function unhashed(listing: Listing): string[] {
  return listing.entries.filter((e) => e.type === "f" && !listing.hashes.has(e.path)).map((e) => e.path);
}

export interface Manifest {
  readonly text: string;
  readonly checksum: string;
  readonly files: number;
  readonly bytes: number;
}

/** `excluded` are release paths whose content changes at run time by design (writable dirs). */
export function buildManifest(listing: Listing, excluded: readonly string[]): Manifest {
  const prefixes = excluded.map((x) => `./${x}/`);
  const inside = (p: string) => prefixes.some((x) => p.startsWith(x));
  const lines: string[] = [];
  const seen = new Set<string>();
  let files = 0;
  let bytes = 0;
  for (const e of listing.entries) {
    if (inside(e.path)) continue;
    // Names read as UTF-8: two that differ only in bytes that are not UTF-8 read alike, and one
    // line each could not tell which file has which hash (verify would not see them swapped).
    if (seen.has(e.path))
      throw new CutoverError(
        "source",
        `two entries of the release are named ${e.path} once read as UTF-8: no manifest can tell them apart`,
        {
          fix: "rename one of them: a manifest records a name that is not UTF-8 with U+FFFD for its stray bytes",
        },
      );
    seen.add(e.path);
    const name = JSON.stringify(e.path.slice(2));
    if (e.type === "f") {
      files += 1;
      bytes += e.size;
      const hash = listing.hashes.get(e.path);
      if (!hash) throw new Error(`no hash for ${e.path}`);
      lines.push(`${name} f ${e.mode} ${hash}`);
    } else if (e.type === "l") lines.push(`${name} l ${JSON.stringify(e.link)}`);
    else if (e.type === "d") lines.push(`${name} d ${e.mode}`);
    else lines.push(`${name} ${e.type}`);
  }
  lines.sort();
  const text = `${lines.join("\n")}\n`;
  return { text, checksum: checksumOf(text), files, bytes };
}
