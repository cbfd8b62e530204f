import { type Cmd, shProgram } from "../shell/cmd.js";
import { currentTarget, type Layout } from "./layout.js";

/**
 * The atomic switch: a new symlink under a temporary name in .cutover/tmp (same file system),
 * renamed over `current` by `mv` into the deploy directory (rename(2), portable without `mv -T`),
 * then the directory is fsynced and the link read back. `current` is never missing, not even for
 * an instant; a real directory at `current` is refused, never replaced. Prints the host's clock
 * (ns) after the rename, for the switch skew between hosts.
 */
const SWITCH = `set -e
root=$1 target=$2
tmp=$root/.cutover/tmp/current
if [ -d "$root/current" ] && [ ! -L "$root/current" ]; then
  echo "$root/current is a real directory; refusing to replace it" >&2; exit 3
fi
[ -e "$root/$target" ] || { echo "$root/$target does not exist" >&2; exit 3; }
# Only where needed (one exec fewer each, between "prepared" and "switched" on every host).
[ -d "$root/.cutover/tmp" ] || mkdir -p -- "$root/.cutover/tmp"
if [ -e "$tmp" ] || [ -L "$tmp" ]; then rm -f -- "$tmp"; fi
ln -s -- "$target" "$tmp"
mv -f -- "$tmp" "$root/"
sync -- "$root" 2>/dev/null || sync
got=$(readlink -- "$root/current")
[ "$got" = "$target" ] || { echo "current points to $got after the switch, expected $target" >&2; exit 4; }
date +%s%N
`;

export function switchTo(l: Layout, id: string): Cmd {
  return shProgram(SWITCH, [l.root, currentTarget(id)], {
    label: "rename a new link over current, fsync, read it back",
  });
}

/**
 * The undo of a switch: `current` back exactly as it was. With a link before, the same rename with
 * its old link text (absolute, relative, even dangling: what was there); without one, the link we
 * made is removed, and only if it is still ours.
 */
const RESTORE = `set -e
root=$1 previous=$2 ours=$3
if [ -n "$previous" ]; then
  tmp=$root/.cutover/tmp/current
  rm -f -- "$tmp"
  ln -s -- "$previous" "$tmp"
  mv -f -- "$tmp" "$root/"
  [ "$(readlink -- "$root/current")" = "$previous" ] || { echo "current is not back to $previous" >&2; exit 4; }
else
  [ "$(readlink -- "$root/current" 2>/dev/null)" = "$ours" ] && rm -f -- "$root/current"
fi
sync -- "$root" 2>/dev/null || sync
`;

export function restoreCurrent(l: Layout, previousLinkText: string | undefined, switchedTo: string): Cmd {
  return shProgram(RESTORE, [l.root, previousLinkText ?? "", currentTarget(switchedTo)], {
    label: "put current back as it was (its old link text, or no link)",
  });
}
