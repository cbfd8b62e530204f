import { type Cmd, shProgram } from "../shell/cmd.js";

/**
 * A new release's manifest written as edits of the previous release's (which the host has): a
 * 1-file deploy of 5,000 files sends a few lines instead of ~0.5 MB. The host applies them with awk
 * and keeps the result only if its sha256 is the manifest's checksum, so a previous manifest that
 * is not the one these edits were made from (or an awk that reads them otherwise) writes nothing.
 */

/**
 * Edits above this many bytes are not worth it, and must fit one exec argument and one environment
 * string on the host (Linux: 128 KiB each).
 */
export const EDITS_LIMIT = 64 * 1024;

/**
 * One line per edit, in order: `d<N>` drops line N of the previous manifest, `i<N> <line>` puts
 * `line` before its line N (N one past its last line: at the end). Both manifests are sorted the
 * way buildManifest sorts; undefined when the edits would be larger than `limit` bytes.
 */
export function manifestEdits(previous: string, next: string, limit = EDITS_LIMIT): string | undefined {
  const was = lines(previous);
  const now = lines(next);
  const edits: string[] = [];
  let size = 0;
  const add = (edit: string) => {
    edits.push(edit);
    size += Buffer.byteLength(edit) + 1;
  };
  let i = 0;
  let j = 0;
  while ((i < was.length || j < now.length) && size <= limit) {
    const a = was[i];
    const b = now[j];
    if (a !== undefined && a === b) {
      i += 1;
      j += 1;
    } else if (b === undefined || (a !== undefined && a < b)) {
      add(`d${i + 1}`);
      i += 1;
    } else {
      add(`i${i + 1} ${b}`);
      j += 1;
    }
  }
  return size <= limit ? edits.join("\n") : undefined;
}

const lines = (text: string) => (text === "" ? [] : text.replace(/\n$/, "").split("\n"));

/** Said on stderr when the result is not the expected manifest (see manifestFromPrevious). */
export const EDITS_MISMATCH = "the manifest made from the previous one is not the expected one";

// The edits come through the environment: awk's -v would read backslashes in them as escapes. Any
// failure here (no awk, an awk that reads them otherwise) leaves the whole manifest to be sent.
const APPLY = `
BEGIN {
  n = split(ENVIRON["CUTOVER_EDITS"], e, "\\n")
  for (k = 1; k <= n; k++) {
    if (substr(e[k], 1, 1) == "d") { del[substr(e[k], 2) + 0] = 1; continue }
    sp = index(e[k], " ")
    at = substr(e[k], 2, sp - 2) + 0
    ins[at] = ins[at] substr(e[k], sp + 1) "\\n"
  }
}
{ if (FNR in ins) printf "%s", ins[FNR]; if (!(FNR in del)) print }
END { if ((FNR + 1) in ins) printf "%s", ins[FNR + 1] }
`;

const FROM_PREVIOUS = `prev=$1 out=$2 want=$3 apply=$5 stamp=$6
mismatch() { rm -f -- "$out.tmp"; echo "${EDITS_MISMATCH} ($1)" >&2; exit 3; }
[ -f "$prev" ] && [ ! -L "$prev" ] || mismatch "no previous manifest"
CUTOVER_EDITS=$4 awk "$apply" "$prev" > "$out.tmp" || mismatch "awk failed"
got=$(sha256sum < "$out.tmp") || mismatch "sha256sum failed"
[ "sha256:\${got%% *}" = "$want" ] || mismatch "another checksum"
[ -z "$stamp" ] || touch -m -r "$stamp" -- "$out.tmp"
mv -f -- "$out.tmp" "$out"
`;

/**
 * Writes `file` (atomically) from `previousFile` and `edits`, if the result has `checksum`, with the
 * mtime of `stampFrom` if given (see manifestWrite).
 */
export function manifestFromPrevious(
  previousFile: string,
  file: string,
  checksum: string,
  edits: string,
  stampFrom = "",
): Cmd {
  return shProgram(FROM_PREVIOUS, [previousFile, file, checksum, edits, APPLY, stampFrom], {
    label: "write the manifest as edits of the previous one, checked by its checksum",
  });
}
