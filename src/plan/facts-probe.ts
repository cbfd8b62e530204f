import { type Cmd, shProgram } from "../shell/cmd.js";
import type { LockOwner } from "./lock.js";

/**
 * One read of everything the planner needs from a host, optionally taking the lock in the same
 * exchange (mkdir is atomic; the owner file follows). Data arrives only as positional parameters.
 * Output is NUL-separated fields (key, values...), so no name found on the host can forge a record:
 * a directory called "x\nrelease .." is just a name. `current` and `releases/` are resolved on the
 * host (realpath), so a deploy path behind a symlink or an absolute `current` still names the live
 * release.
 */
const PROBE = `
root=$1 mode=$2 owner=$3; shift 3
meta=$root/.cutover
put() { for f; do printf '%s\\000' "$f"; done; }
# Sets k (a variable, not output: no subshell per path).
kind() { if [ -L "$1" ]; then k=link; elif [ -d "$1" ]; then k=dir; elif [ -f "$1" ]; then k=file; elif [ -e "$1" ]; then k=other; else k=missing; fi; }
put cutover-facts 2
# Not a regular file (a fifo would hold the read until command_timeout): no owner known.
owner_text() { [ ! -f "$meta/lock/owner.json" ] || head -c 4096 -- "$meta/lock/owner.json" 2>/dev/null | tr -d '\\000'; }
# Its checksum too: the text reaches cutover decoded as UTF-8, not always the bytes unlock compares.
held() { o=$(owner_text); put lock held "$o"; put lock-sum "$(printf '%s' "$o" | cksum)"; }
# A lock is a directory, never through a link: anything else there (a file, a link) no run of cutover made.
foreign_lock() { { [ -L "$meta/lock" ] || [ ! -d "$meta/lock" ]; } && kind "$meta/lock" && [ "$k" != missing ] && put lock foreign "$k"; }
if [ "$mode" = lock ]; then
  [ -e "$root" ] || put created root
  [ -e "$meta" ] || put created meta
  if ! err=$(mkdir -p -- "$meta" 2>&1); then
    put lock error "$err"
  # A mkdir that failed with no lock there (a disk out of inodes) is tried again for its message:
  # that is no lock held by another run.
  elif mkdir -- "$meta/lock" 2>/dev/null || { [ ! -e "$meta/lock" ] && [ ! -L "$meta/lock" ] && err=$(mkdir -- "$meta/lock" 2>&1); }; then
    if printf '%s\\n' "$owner" > "$meta/lock/owner.json" 2>/dev/null; then put lock acquired
    else rm -rf -- "$meta/lock"; put lock error "cannot write $meta/lock/owner.json (disk full?)"; fi
  elif [ -e "$meta/lock" ] || [ -L "$meta/lock" ]; then
    foreign_lock || held
  else
    put lock error "$err"
  fi
elif [ -d "$meta/lock" ] && [ ! -L "$meta/lock" ]; then held; else foreign_lock || :; fi
put home "\${HOME:-}"
command -v rsync >/dev/null 2>&1 && put rsync yes || put rsync no
if [ -d "$root" ]; then put root ok; elif [ -e "$root" ] || [ -L "$root" ]; then put root notdir; else put root missing; exit 0; fi
[ -w "$root" ] && put writable yes || put writable no
for d in releases shared .cutover .cutover/releases .cutover/tmp; do kind "$root/$d"; put inner "$d" "$k"; done
if [ -L "$root/current" ]; then put current link "$(readlink -- "$root/current")" "$(realpath -e -- "$root/current" 2>/dev/null)"
else
  kind "$root/current"; put current "$k"
  # Whether a real current/ holds anything: an in-place upload replaces what no build of its put there.
  [ "$k" != dir ] || { e=no; for x in "$root"/current/* "$root"/current/.[!.]* "$root"/current/..?*; do
    if [ -e "$x" ] || [ -L "$x" ]; then e=yes; break; fi; done; put current-entries "$e"; }
fi
put releases-real "$(realpath -e -- "$root/releases" 2>/dev/null)"
if [ -d "$root/releases" ] && [ ! -L "$root/releases" ]; then
  for d in "$root"/releases/* "$root"/releases/.[!.]* "$root"/releases/..?*; do
    if [ -e "$d" ] || [ -L "$d" ]; then kind "$d"; put release "$k" "\${d##*/}"; fi
  done
fi
# Metadata (one line of JSON) is read by the shell, where its read drops NUL bytes (zsh's would not);
# over 64 KiB (one find), more than one line or longer once read (grown since): cut, NULs dropped.
if [ -d "$meta/releases" ] && [ ! -L "$meta/releases" ]; then
  big=/$(find "$meta/releases" -maxdepth 1 -name '*.json' -size +65536c -printf '%f/' 2>/dev/null)
  printf 'a\\000b\\n' | { IFS= read -r x; [ "$x" = ab ]; } || big=all
  for f in "$meta"/releases/*.json; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    n=\${f##*/} line= more= cut=
    case $big in
      all|*/"$n"/*) cut=yes ;;
      *) if { IFS= read -r line; IFS= read -r more || [ -n "$more" ]; } < "$f"; then cut=yes; fi
         [ "\${#line}" -le 65536 ] || cut=yes ;;
    esac
    if [ -n "$cut" ]; then put meta "$n" "$(head -c 65536 -- "$f" | tr -d '\\000')"; else put meta "$n" "$line"; fi
  done
fi
if [ -d "$meta/tmp" ] && [ ! -L "$meta/tmp" ]; then
  for t in "$meta"/tmp/* "$meta"/tmp/.[!.]* "$meta"/tmp/..?*; do
    if [ -e "$t" ] || [ -L "$t" ]; then put tmp "\${t##*/}"; fi
  done
fi
# Shared paths follow links (shared/storage -> ../storage is a directory to the app): "link" is a dangling one.
skind() { if [ -d "$1" ]; then k=dir; elif [ -f "$1" ]; then k=file; elif [ -L "$1" ]; then k=link; elif [ -e "$1" ]; then k=other; else k=missing; fi; }
# An absolute path (shared paths never are) is another component's deploy path: both resolved here
# (this one's only then: a realpath is a process of its own).
for p in "$@"; do case $p in /*) [ -n "\${rr+x}" ] || rr=$(realpath -e -- "$root" 2>/dev/null)
  put apart "$p" "$(realpath -m -- "$p" 2>/dev/null)" "$rr"; continue ;; esac
  skind "$root/shared/$p"; put shared "$k" "$p"; done
put avail "$(df -Pk -- "$root" 2>/dev/null | awk 'NR==2 {print $4}')"
`;

export function factsProbe(deployPath: string, sharedPaths: readonly string[], lockOwner?: LockOwner): Cmd {
  const lock = lockOwner ? ["lock", JSON.stringify(lockOwner)] : ["read", ""];
  return shProgram(PROBE, [deployPath, ...lock, ...sharedPaths]);
}
