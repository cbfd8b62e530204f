import type { Listing } from "../../plan/manifest.js";
import { type Cmd, shProgram } from "../../shell/cmd.js";

/**
 * The scan for the literal `DEPLOY_PATH/current/` in a release (generated caches included): code
 * that names `current` resolves it again in mid-request and can mix two releases. A file hard-linked
 * to the previous release has that release's content, so only new files and those the previous
 * release's scan found need reading; without the previous release's findings, everything is read.
 */
export const SCAN_LINES = 50;

/** Findings recorded in a release's metadata stay small: it is read back with a size limit. */
const RECORD_BYTES = 8192;

const SCAN_ALL = `cd -- "$1" || exit 0
grep -rIn -F -e "$2" -- . 2>/dev/null | head -n ${SCAN_LINES}
exit 0
`;

const SCAN_FILES = `cd -- "$1" || exit 0
needle=$2
shift 2
grep -HIn -F -e "$needle" -- "$@" 2>/dev/null | head -n ${SCAN_LINES}
exit 0
`;

/** Keeps each command far below Linux's limits for one argument list. */
const CHUNK_BYTES = 96_000;

/** The files to read: undefined means all of them (no findings of the previous release to reuse). */
export function filesToScan(
  listing: Listing,
  previousFindings: readonly string[] | undefined,
): string[] | undefined {
  if (previousFindings === undefined) return undefined;
  const found = new Set(previousFindings.map((p) => `./${p}`));
  return listing.entries
    .filter((e) => e.type === "f")
    .filter((e) => {
      const was = listing.reused.get(e.path);
      return was === undefined || found.has(was);
    })
    .map((e) => e.path);
}

export function scanCmds(releaseDir: string, needle: string, files: readonly string[] | undefined): Cmd[] {
  if (files === undefined) return [shProgram(SCAN_ALL, [releaseDir, needle], { label: "scan the release" })];
  const cmds: Cmd[] = [];
  let chunk: string[] = [];
  let bytes = 0;
  const flush = () => {
    if (chunk.length > 0)
      cmds.push(shProgram(SCAN_FILES, [releaseDir, needle, ...chunk], { label: "scan files" }));
    chunk = [];
    bytes = 0;
  };
  for (const f of files) {
    if (bytes + f.length > CHUNK_BYTES) flush();
    chunk.push(f);
    bytes += f.length + 1;
  }
  flush();
  return cmds;
}

export interface ScanResult {
  /** "path:line:text", release-relative, at most SCAN_LINES. */
  readonly hits: readonly string[];
  /** The files with findings, to record for the next release; undefined when not all are known. */
  readonly files: readonly string[] | undefined;
}

/** Reads grep's "./path:line:text" lines; the file of a line is the listed file it starts with. */
export function parseScan(output: string, listing: Listing): ScanResult {
  const lines = output.split("\n").filter(Boolean);
  const hits = lines.slice(0, SCAN_LINES).map((l) => (l.startsWith("./") ? l.slice(2) : l));
  const names = new Set(listing.entries.filter((e) => e.type === "f").map((e) => e.path));
  const files = new Set<string>();
  let complete = lines.length < SCAN_LINES;
  for (const line of lines) {
    const m = /^(.*?):\d+:/.exec(line);
    let name = m?.[1];
    // A name with ":12:" in it: take the longest listed prefix instead.
    if (name !== undefined && !names.has(name)) name = [...names].find((n) => line.startsWith(`${n}:`));
    if (name === undefined) complete = false;
    else files.add(name.slice(2));
  }
  const list = [...files].sort();
  if (JSON.stringify(list).length > RECORD_BYTES) complete = false;
  return { hits, files: complete ? list : undefined };
}
