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
rm -f -- "$tmp"
ln -s -- "$target" "$tmp"
mv -f -- "$tmp" "$root/"
sync -- "$root" 2>/dev/null || sync
got=$(readlink -- "$root/current")
[ "$got" = "$target" ] || { echo "current points to $got after the switch, expected $target" >&2; exit 4; }
date +%s%N
`;

export function switchTo(l: Layout, id: string): Cmd {
  return shProgram(SWITCH, [l.root, currentTarget(id)]);
}

const UNSWITCH = `set -e
root=$1 expected=$2
[ "$(readlink -- "$root/current" 2>/dev/null)" = "$expected" ] && rm -f -- "$root/current"
sync -- "$root" 2>/dev/null || true
`;

/** Undo of a first deploy (there was no `current` before): remove the link we made, and only it. */
export function removeCurrent(l: Layout, id: string): Cmd {
  return shProgram(UNSWITCH, [l.root, currentTarget(id)]);
}
