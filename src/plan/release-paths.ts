import { type Cmd, shProgram } from "../shell/cmd.js";

/**
 * Sh code: every parent of $p below $rel must be a real directory or not exist yet; anything else
 * ends the program (exit 3) naming it. Shared by the programs that write into a release or the live
 * directory of an in-place deploy.
 */
export const PARENTS_ARE_DIRECTORIES = `at=$rel rest=$p
while :; do
  case $rest in */*) part=\${rest%%/*} rest=\${rest#*/} ;; *) break ;; esac
  at=$at/$part
  if [ -L "$at" ]; then echo "$at is a symlink (to $(readlink -- "$at")); refusing to write through it" >&2; exit 3; fi
  if [ -e "$at" ] && [ ! -d "$at" ]; then echo "$at is not a directory" >&2; exit 3; fi
done
`;

/**
 * Writes under a release only where the path stays inside it: every parent of the path inside the
 * release must be a real directory (or not exist yet). A source tree with `var -> /outside` and
 * `shared_dirs: [var/cache]` would otherwise make cutover delete /outside/cache. Checked on the
 * host, right before the write, by the one program that does these writes.
 */
const INSIDE = `set -e
mode=$1 rel=$2 p=$3; shift 3
${PARENTS_ARE_DIRECTORIES}dest=$rel/$p
case $mode in
  link)
    # Only where needed: each exec is a millisecond or two of the deploy, and the parent most often
    # exists (the release root) with nothing at the name.
    [ -d "\${dest%/*}" ] || mkdir -p -- "\${dest%/*}"
    if [ -e "$dest" ] || [ -L "$dest" ]; then rm -rf -- "$dest"; fi
    ln -s -- "$1" "$dest" ;;
  writable)
    if [ -L "$dest" ]; then echo "$dest is a symlink (to $(readlink -- "$dest")); a writable dir must be a directory" >&2; exit 3; fi
    if [ -e "$dest" ] && [ ! -d "$dest" ]; then echo "$dest is not a directory" >&2; exit 3; fi
    if [ -d "$dest" ]; then
      # Uploaded files are hard links into older releases: copy them so writes stay in this release.
      # The release is this run's own and new, so a copy there already came from the source: not ours.
      if [ -e "$dest.cutover-copy" ] || [ -L "$dest.cutover-copy" ]; then echo "$dest.cutover-copy is in the source; cutover copies the writable dir there: rename or exclude it" >&2; exit 3; fi
      cp -a -- "$dest" "$dest.cutover-copy"
      rm -rf -- "$dest"
      mv -- "$dest.cutover-copy" "$dest"
    else
      mkdir -p -- "$dest"
    fi
    chmod "$1" -- "$dest"
    if [ -n "$2" ]; then chown -R -P -- "$2" "$dest"; fi ;;
esac
`;

/** Replaces `release/p` with a symlink to `linkTarget` (the shared path). */
export function linkInRelease(release: string, p: string, linkTarget: string): Cmd {
  return shProgram(INSIDE, ["link", release, p, linkTarget], {
    label: "link into the release, refusing symlinked parents",
  });
}

/** Makes `release/p` a directory of this release's own (copied if uploaded), with its mode and owner. */
export function writableInRelease(release: string, p: string, mode: string, owner: string): Cmd {
  return shProgram(INSIDE, ["writable", release, p, mode, owner], {
    label: "own writable dir in the release, refusing symlinks",
  });
}

/**
 * The mode and owner of a shared path cutover has just created or seeded, set only where the path
 * is what it seems: reached from shared/ without a symlink (an app that can write a parent could
 * otherwise plant `shared/data -> /etc` between the mkdir and the chmod).
 */
const SHARED_ACCESS = `set -e
shared=$1 p=$2 mode=$3 owner=$4
real=$(realpath -e -- "$shared")
[ "$(realpath -e -- "$shared/$p")" = "$real/$p" ] || { echo "$shared/$p is reached through a symlink; not changing its mode or owner" >&2; exit 3; }
[ -z "$mode" ] || chmod "$mode" -- "$shared/$p"
[ -z "$owner" ] || chown -R -P -- "$owner" "$shared/$p"
`;

export function accessInShared(sharedDir: string, p: string, mode: string, owner: string): Cmd {
  return shProgram(SHARED_ACCESS, [sharedDir, p, mode, owner], {
    label: "set mode and owner of a new shared path, refusing symlinks",
  });
}
