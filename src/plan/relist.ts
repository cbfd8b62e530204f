import { type Cmd, shProgram } from "../shell/cmd.js";
import { STAMP_LISTING_START } from "./listing-stamp.js";
import { type Listing, parseListing } from "./manifest.js";

/**
 * A release's listing brought up to date after cutover's own changes at a few paths (the shared
 * paths made links, the writable dirs copied in place), made after a delta upload was checked:
 * those paths and their parents are listed again on the host, in the manifest listing's format,
 * instead of the whole tree. Files still linked whose mtime is newer than the previous release's
 * manifest are hashed again: the live release shares their inodes, so an edit there since the
 * check (or one the check let pass, a source mtime in the future) shows. The release directory's
 * mtime is set to the time the listing starts, for the manifest file to take (see listing-stamp.ts).
 */
const RELIST = `set -e
${STAMP_LISTING_START}
cd -- "$1"
stamp_listing_start
manifest=$2
shift 2
printf '@@entries\\0'
[ "$#" -eq 0 ] || find "$@" -maxdepth 0 -printf '%y\\0%m\\0%s\\0%p\\0%l\\0%i\\0%n\\0'
printf '@@hashes\\0'
find . -type f -links +1 -newer "$manifest" -exec sha256sum -z -- {} +
`;

/** "./a", "./a/b", "./a/b/c" for "a/b/c": a path and every parent below the release root. */
export function withParents(paths: readonly string[]): string[] {
  const all = new Set<string>();
  for (const p of paths) {
    const parts = p.split("/");
    for (let n = 1; n <= parts.length; n++) all.add(`./${parts.slice(0, n).join("/")}`);
  }
  return [...all];
}

export function relistProbe(releaseDir: string, previousManifest: string, paths: readonly string[]): Cmd {
  return shProgram(RELIST, [releaseDir, previousManifest, ...withParents(paths)], {
    label: "list the shared links",
  });
}

/** Ends the relist's output (after its hash records) when other commands' output follows. */
export const relistEnd: Cmd = shProgram("printf '@@listed\\000'", [], { label: "end of the listing" });

/**
 * The relist's output and what followed `relistEnd`. Markers count only where a record starts:
 * entries are seven fields up to "@@hashes", hash records start with hex digits.
 */
export function splitRelisted(output: string): { listed: string; rest: string } {
  const fields = output.split("\0");
  let i = 1;
  while (i < fields.length && fields[i] !== "@@hashes") i += 7;
  while (i < fields.length && fields[i] !== "@@listed") i += 1;
  if (i >= fields.length) throw new Error("the host's listing of the shared links is cut short");
  return { listed: fields.slice(0, i).join("\0"), rest: fields.slice(i + 1).join("\0") };
}

/** True for "./p" at or below any of the release-relative `paths`. */
export function atOrBelow(paths: readonly string[]): (p: string) => boolean {
  const roots = paths.map((p) => `./${p}`);
  const dirs = roots.map((r) => `${r}/`);
  return (p) => roots.includes(p) || dirs.some((d) => p.startsWith(d));
}

/**
 * `listing` with the entries at the relisted paths replaced by what the relist probe found
 * (followed by hash records of files its round trip hashed), and every entry below a path made a
 * link (`linked`) gone. `edited`: files linked from the previous release whose content is no
 * longer what its manifest records (their hashes from that manifest, and the scan's reuse, no
 * longer hold).
 */
export function mergeRelisted(
  listing: Listing,
  linked: readonly string[],
  output: string,
): { listing: Listing; edited: string[] } {
  const relisted = parseListing(output);
  const replaced = new Set(relisted.entries.map((e) => e.path));
  const below = atOrBelow(linked);
  const gone = (p: string) => replaced.has(p) || below(p);
  const hashes = new Map(listing.hashes);
  const edited: string[] = [];
  for (const [p, h] of relisted.hashes) {
    if (listing.reused.has(p) && listing.hashes.get(p) !== h) edited.push(p);
    hashes.set(p, h);
  }
  const entries = listing.entries.filter((e) => !gone(e.path));
  for (const e of relisted.entries) entries.push(e);
  const reused = new Map<string, string>();
  for (const [p, h] of listing.reused) if (!gone(p)) reused.set(p, h);
  return { listing: { entries, hashes, reused }, edited };
}
