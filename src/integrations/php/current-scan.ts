import { fieldAt } from "../../plan/fields.js";
import type { Listing } from "../../plan/manifest.js";
import type { CurrentScan } from "../../plan/release-meta.js";
import { chunkArgs } from "../../shell/chunks.js";
import { type Cmd, shProgram } from "../../shell/cmd.js";

/**
 * The scan for the literal `DEPLOY_PATH/current/` in a release (generated caches included): code
 * that names `current` resolves it again in mid-request and can mix two releases. A file hard-linked
 * to the previous release has that release's content, so only new files and those the previous
 * release's scan found (for the same literal) need reading; without those findings, all are read.
 */
export const SCAN_LINES = 50;

/** Findings recorded in a release's metadata stay small: it is read back with a size limit. */
const RECORD_BYTES = 8192;

/**
 * Prints the names of the files that hold the literal (NUL-separated, exact), grep's status (2: a
 * file could not be read, so the findings are incomplete), then the first lines found (looked for
 * only when grep did not say "none": reading every file again was half the scan's time), then an
 * end marker. Names start with "./", so no name is a marker. Devices and fifos are skipped
 * (-D skip), named or through a link: after a delta upload the scan runs before the deploying
 * machine has read the check (a fifo hard-linked from a tampered previous release would hold grep
 * until the timeout).
 */
const SCAN = `cd -- "$1" || { printf '@@status\\0002\\000@@end\\000'; exit 0; }
needle=$2
shift 2
if [ "$#" -eq 0 ]; then r=-r; set -- .; else r=; fi
grep $r -D skip -IlZ -F -e "$needle" -- "$@" 2>/dev/null && found=0 || found=$?
printf '@@status\\000%s\\000' "$found"
[ "$found" = 1 ] || grep $r -D skip -IlZ -F -e "$needle" -- "$@" 2>/dev/null | xargs -0 -r grep -D skip -HIn -F -e "$needle" -- 2>/dev/null | head -n ${SCAN_LINES}
printf '@@end\\000'
exit 0
`;

/** The files to read: undefined means all of them (no findings of the previous release to reuse). */
export function filesToScan(
  listing: Listing,
  previous: CurrentScan | undefined,
  needle: string,
): string[] | undefined {
  if (previous?.needle !== needle) return undefined;
  const found = new Set(previous.files.map((p) => `./${p}`));
  return listing.entries
    .filter((e) => e.type === "f")
    .filter((e) => {
      const was = listing.reused.get(e.path);
      return was === undefined || found.has(was);
    })
    .map((e) => e.path);
}

export function scanCmds(releaseDir: string, needle: string, files: readonly string[] | undefined): Cmd[] {
  if (files === undefined) return [shProgram(SCAN, [releaseDir, needle], { label: "scan the release" })];
  return chunkArgs(files).map((chunk) =>
    shProgram(SCAN, [releaseDir, needle, ...chunk], { label: "scan files" }),
  );
}

export interface ScanResult {
  /** "path:line:text", release-relative, at most SCAN_LINES. */
  readonly hits: readonly string[];
  /** The files with findings, to record for the next release; undefined when not all are known. */
  readonly files: readonly string[] | undefined;
}

/** Reads the output of every scan command: per command, names, "@@status", N, lines, "@@end". */
export function parseScan(output: string): ScanResult {
  const files = new Set<string>();
  const hits: string[] = [];
  let complete = true;
  let rest = output;
  while (rest !== "") {
    // The marker is a whole field: a name (NUL-ended, holding no NUL) may end with its text.
    const status = fieldAt(rest, "@@status");
    // The lines after the status hold no NUL: the first "@@end\0" after it ends them.
    const end = status < 0 ? -1 : rest.indexOf("@@end\0", status + 9);
    if (end < 0) {
      complete = false;
      break;
    }
    for (const name of rest.slice(0, status).split("\0")) if (name.startsWith("./")) files.add(name.slice(2));
    const [code = "", lines = ""] = rest.slice(status + 9, end).split("\0");
    if (code !== "0" && code !== "1") complete = false;
    for (const line of lines.split("\n"))
      if (line !== "" && hits.length < SCAN_LINES) hits.push(line.startsWith("./") ? line.slice(2) : line);
    rest = rest.slice(end + 6);
  }
  const list = [...files].sort();
  if (hits.length >= SCAN_LINES || JSON.stringify(list).length > RECORD_BYTES) complete = false;
  return { hits, files: complete ? list : undefined };
}
