import path from "node:path/posix";
import { type Cmd, shProgram } from "../shell/cmd.js";
import { PARENTS_ARE_DIRECTORIES } from "./release-paths.js";

/**
 * strategy: in-place. `current` is one real directory (the vhost serves DEPLOY_PATH/current/public,
 * as with releases). Shared paths inside it are links into DEPLOY_PATH/shared/, writable paths are
 * its own directories: both are excluded from the upload, so it never touches them.
 */

/** Relative link from `current/<p>` to `shared/<p>`. */
export function sharedLinkFromCurrent(p: string): string {
  return `${"../".repeat(p.split("/").length)}shared/${p}`;
}

/**
 * Creates `live/p` only where nothing is there yet: a link to the shared path, or a writable
 * directory with its mode and owner. What is already there stays as it is (it may be the app's
 * data). Refuses to write through a symlinked or non-directory parent inside the live directory.
 */
const ENSURE = `set -e
kind=$1 live=$2 p=$3; shift 3
rel=$live
${PARENTS_ARE_DIRECTORIES}dest=$live/$p
if [ -e "$dest" ] || [ -L "$dest" ]; then
  # Declared shared after the app wrote there: its data stays outside shared/ (never moved).
  if [ "$kind" = link ] && [ ! -L "$dest" ]; then
    printf 'cutover-warning: %s is not a link into shared/ (it was there before %s was a shared path): the app keeps its data there; move it into the deploy path'"'"'s shared/%s and remove it, then deploy\n' "$dest" "$p" "$p"
  fi
  exit 0
fi
mkdir -p -- "\${dest%/*}"
case $kind in
  link) ln -s -- "$1" "$dest" ;;
  writable)
    mkdir -- "$dest"
    chmod "$1" -- "$dest"
    if [ -n "$2" ]; then chown -R -P -- "$2" "$dest"; fi ;;
esac
`;

export function ensureSharedLink(live: string, p: string): Cmd {
  return shProgram(ENSURE, ["link", live, p, sharedLinkFromCurrent(p)], {
    label: "link a shared path into the live directory where nothing is there yet",
  });
}

export function ensureWritable(live: string, p: string, mode: string, owner: string): Cmd {
  return shProgram(ENSURE, ["writable", live, p, mode, owner], {
    label: "create a writable directory in the live directory where nothing is there yet",
  });
}

/** Where the switch leaves its time mark (cutover's own name in .cutover/tmp). */
export function markPath(root: string): string {
  return path.join(root, ".cutover", "tmp", "in-place-mark");
}

/** Before the upload: a file whose mtime is the host's "now", for the window measured after it. */
const MARK = `set -e
mkdir -p -- "\${1%/*}"
rm -f -- "$1"
: > "$1"
`;

export function markBeforeUpload(root: string): Cmd {
  return shProgram(MARK, [markPath(root)], { label: "mark the host's time before the upload" });
}

/**
 * After the upload: every entry of the live directory whose inode changed since the mark, with its
 * ctime (rename(2) sets it, so the renames at the end of rsync --delay-updates are what it shows),
 * NUL-separated; then the mark is removed. The untouched paths (shared links, writable dirs) are not
 * walked: their contents are the app's and do not count. What find cannot read (an excluded dir the
 * app keeps from this login) is skipped, not a failure: the upload ran as this login, so it changed
 * nothing there, and a complete upload must not count as a failed switch. Only a missing mark fails.
 */
const MEASURE = `live=$1 mark=$2; shift 2
[ -f "$mark" ] || { echo "$mark is missing: cannot measure" >&2; exit 3; }
find "$live" -xdev "$@" -cnewer "$mark" -printf '%C@ %y %P\\0' 2>/dev/null || :
rm -f -- "$mark"
`;

/** A path for find's -path, matched literally (its glob characters escaped). */
const literal = (p: string) => p.replace(/[\\*?[\]]/g, "\\$&");

export function measureWindow(live: string, root: string, untouched: readonly string[]): Cmd {
  const prune =
    untouched.length === 0
      ? []
      : [
          "(",
          ...untouched.flatMap((p, i) => [...(i > 0 ? ["-o"] : []), "-path", literal(`${live}/${p}`)]),
          ")",
          "-prune",
          "-o",
        ];
  return shProgram(MEASURE, [live, markPath(root), ...prune], {
    label: "list what changed in the live directory since the mark, with change times",
  });
}
