import { type Cmd, cmd, shProgram } from "../shell/cmd.js";
import type { Layout } from "./layout.js";
import type { LockOwner } from "./lock.js";
import type { ReleaseMeta, Revision } from "./release-meta.js";

/**
 * Write a file so readers see the old or the new content, never a torn one; with `mtimeFrom`, the
 * file takes that path's mtime.
 */
export function writeFileAtomic(file: string, content: string, mtimeFrom = ""): Cmd[] {
  const tmp = `${file}.tmp`;
  return [
    cmd(["printf", "%s", content], { stdoutTo: tmp }),
    ...(mtimeFrom ? [cmd(["touch", "-m", "-r", mtimeFrom, "--", tmp])] : []),
    cmd(["mv", "-f", "--", tmp, file]),
  ];
}

export function writeMeta(l: Layout, meta: ReleaseMeta): Cmd[] {
  return writeFileAtomic(l.releaseMeta(meta.id), `${JSON.stringify(meta)}\n`);
}

export type HistoryEvent =
  | "deploy"
  | "rollback"
  | "unlock"
  | "cleanup"
  | "adopt"
  | "restore-shared"
  | "switch"
  | "switch-back";

export interface HistoryEntry {
  readonly event: HistoryEvent;
  readonly outcome: "ok" | "failed" | "aborted" | "rolled-back" | "degraded";
  readonly stage: string;
  readonly host: string;
  readonly release: string | null;
  readonly previous: string | null;
  readonly revision: string | null;
  /** strategy: git: the commit's ref, author, date and subject, so the log outlives the release's metadata. */
  readonly revision_info?: Pick<Revision, "ref" | "author" | "date" | "subject">;
  readonly who: string;
  readonly at: string;
  readonly duration_ms: number | null;
  readonly reason: string | null;
}

/** A history line for work that is about the deploy path rather than one deploy (unlock, cleanup, adopt, restore). */
export function pathEntry(
  entry: Pick<HistoryEntry, "event" | "outcome" | "stage" | "host" | "who" | "at" | "reason"> &
    Partial<Pick<HistoryEntry, "release" | "duration_ms">>,
): HistoryEntry {
  return { release: null, previous: null, revision: null, duration_ms: null, ...entry };
}

/**
 * A line cut short by a crash or a full disk gets its newline first, so it cannot swallow this one.
 * Only a regular file (or none) is written: a fifo there would hold the append until command_timeout.
 */
const onlyRegular = (what: string) => `if [ -e "$f" ] && [ ! -f "$f" ]; then
  printf '%s\\n' "$f is not a regular file; ${what}" >&2; exit 3
fi`;
const APPEND = `
f=$1
${onlyRegular("not written")}
if [ -s "$f" ] && [ -n "$(tail -c 1 -- "$f")" ]; then printf '\\n' >> "$f"; fi
printf '%s\\n' "$2" >> "$f"
`;

/** One JSON line appended to .cutover/history.jsonl (one short O_APPEND write). */
export function appendHistory(l: Layout, entry: HistoryEntry): Cmd {
  return shProgram(APPEND, [l.history, JSON.stringify(entry)], { label: "append to history" });
}

// Its last bytes first: a huge last line (no newline) would be read whole into this machine's memory.
const TAIL = `
f=$1
${onlyRegular("not read")}
[ ! -e "$f" ] || tail -c "$3" -- "$f" | tail -n "$2"
`;

/** Far more than any `lines` real entries take (a few hundred bytes each). */
const HISTORY_TAIL_BYTES = 64 * 1024 * 1024;

/** The last `lines` lines of .cutover/history.jsonl (at most 64 MiB); none when it is missing; why not on stderr. */
export function readHistoryTail(l: Layout, lines: number): Cmd {
  return shProgram(TAIL, [l.history, String(lines), String(HISTORY_TAIL_BYTES)], {
    mayFail: true,
    label: "read history",
  });
}

const UNLOCK = `
owner=$1/owner.json
# Only a regular file is read (a fifo would hold the read); no grep -D: POSIX grep has none.
if [ -f "$owner" ] && grep -q -F -- "\\"token\\":\\"$2\\"" "$owner" 2>/dev/null; then rm -rf -- "$1"; fi
`;

/** Removes the lock only if we still own it: never delete someone else's lock. */
export function releaseLock(l: Layout, owner: LockOwner): Cmd {
  return shProgram(UNLOCK, [l.lock, owner.token]);
}

/** Printed by releaseLockAfter once the lock is no longer ours. */
export const UNLOCKED = "@@unlocked";

/**
 * The lock's release at the end of a round trip that does other work (a host's records): it may
 * fail without failing them, and says on stdout when it is done.
 */
export function releaseLockAfter(l: Layout, owner: LockOwner): Cmd {
  return shProgram(`set -e${UNLOCK}printf '%s' '${UNLOCKED}'\n`, [l.lock, owner.token], {
    mayFail: true,
    label: "release the lock",
  });
}

/**
 * Removes a lock only if it is still the one that was looked at (same owner file text, by its
 * cksum as the facts probe took it), so a run that took the lock in between keeps it. A lock
 * without an owner file must be older than 10 s: a run that has just made the directory is about
 * to write its owner.
 */
const CLEAR_OBSERVED = `
lock=$1 seen=$2
[ -d "$lock" ] || { echo "the lock is gone already" >&2; exit 3; }
now=$([ ! -f "$lock/owner.json" ] || head -c 4096 -- "$lock/owner.json" 2>/dev/null | tr -d '\\000')
[ "$(printf '%s' "$now" | cksum)" = "$seen" ] || { echo "the lock changed hands since it was read; not cleared" >&2; exit 3; }
if [ -z "$now" ] && [ -n "$(find "$lock" -maxdepth 0 -newermt '10 seconds ago')" ]; then
  echo "the lock was taken a moment ago; not cleared" >&2; exit 3
fi
rm -rf -- "$lock"
`;

export function clearObservedLock(l: Layout, seenOwnerSum: string): Cmd {
  return shProgram(CLEAR_OBSERVED, [l.lock, seenOwnerSum]);
}

/**
 * Makes a release's directory once its metadata ("preparing") is written. If anything is there
 * already, it is not this run's: that metadata goes again, so no cleanup takes the directory for
 * cutover's (removeReleases wants metadata naming it).
 */
const MAKE_RELEASE = `mkdir -- "$1" || { rm -f -- "$2"; exit 1; }`;

export function makeRelease(l: Layout, id: string): Cmd {
  return shProgram(MAKE_RELEASE, [l.release(id), l.releaseMeta(id)], {
    label: "make the release directory, or take back its metadata",
  });
}

/**
 * The only way cutover deletes a release, checked again on the host at the moment of deletion:
 * the name must be one cutover gives or adopts (one safe path component), the entry a real
 * directory directly in releases/ (a symlink there is not ours) whose metadata names it, `current`
 * must not resolve to it or into it, and no file system may be mounted in it (rm would remove
 * what is mounted there: a bind mount of shared data, say). Its metadata and manifest go too.
 *
 * The directory is renamed into .cutover/trash (gone from releases/ at once) and removed there by
 * a process of its own that outlives the round trip: a deploy does not wait for thousands of
 * unlinks. That process removes every entry there named as a release can be (what a removal
 * killed before its end left too), nothing else: so only this user may write there (others'
 * entries of such names would go too). Where the trash is not a real directory of this user's,
 * writable by no one else, on the releases' mount, or setsid is missing, the release is removed in
 * place, as it is waited for. What a removal in the trash could not remove, it notes in the
 * trash's .failed; the next prune or cleanup says so (a cleanup warning) and tries again.
 */
const REMOVE_RELEASES = `set -e
# Messages name host paths: printf, not echo (dash's echo reads backslashes in them).
say() { printf '%s\\n' "$*" >&2; }
root=$1; shift
cur=$(realpath -e -- "$root/current" 2>/dev/null || true)
rels=$(realpath -e -- "$root/releases" 2>/dev/null || true)
# Each mount point in releases/ as "<release> <path in releases/>", from the kernel's table, whose
# mount points escape space, tab, newline and backslash in octal. None known without /proc.
mounts=
[ -z "$rels" ] || [ ! -r /proc/self/mountinfo ] || mounts=$(rels=$rels awk '
  function un(s,  o, i) {
    o = ""
    while ((i = index(s, "\\\\")) > 0) {
      o = o substr(s, 1, i - 1) sprintf("%c", substr(s, i + 1, 1) * 64 + substr(s, i + 2, 1) * 8 + substr(s, i + 3, 1))
      s = substr(s, i + 4)
    }
    return o s
  }
  BEGIN { p = ENVIRON["rels"] "/" }
  { m = un($5); if (index(m, p) == 1) { m = substr(m, length(p) + 1); n = m; sub(/\\/.*/, "", n); print n " " m } }
' /proc/self/mountinfo)
trash=$root/.cutover/trash
[ -e "$trash" ] || [ -L "$trash" ] || mkdir -m 700 -- "$trash" 2>/dev/null || true
nl='
'
# The trash is checked, moved into and emptied as the working directory, never by its path again:
# one swapped for a link meanwhile sends neither a release nor the removal elsewhere. It is entered
# through no link (the same inode as the path's own), this user's, writable by no one else, on the
# device of releases/ and on its mount too: between two mounts of one file system (a bind mount)
# rename fails and mv copies instead, into whatever is mounted there (mnt_id: Linux 3.15+).
usable() {
  [ -n "$rels" ] && command -v setsid >/dev/null && cd -P -- "$trash" 2>/dev/null && [ -O . ] || return 1
  # "dev:inode mode" of the working directory, of the trash's path itself, of releases/.
  s=$(stat -c '%d:%i %a' -- . "$trash" "$rels" 2>/dev/null) || return 1
  here=\${s%%"$nl"*} s=\${s#*"$nl"}
  there=\${s%%"$nl"*} under=\${s#*"$nl"}
  [ "\${here% *}" = "\${there% *}" ] && [ "\${here%%:*}" = "\${under%%:*}" ] && [ $((0\${here#* } & 022)) -eq 0 ] || return 1
  # mnt_id of the working directory and of releases/, entered, not opened by path: a fifo put
  # there meanwhile would hold the open until command_timeout.
  s=$(exec 8<. && cd -P -- "$rels" 2>/dev/null && sed -n 's/^mnt_id:[[:space:]]*//p' /proc/self/fdinfo/8 /proc/self/fdinfo/9 2>/dev/null 9<.) || return 1
  case $s in ?*"$nl"?*) [ "\${s%%"$nl"*}" = "\${s#*"$nl"}" ] ;; *) return 1 ;; esac
}
later=
! usable || later=1
# The trash's entries that are cutover's: names a release can have (the loop below refuses any
# other), which is all it renames there. Anything else there stays. Split unquoted, unglobbed.
set -f
ours='-mindepth 1 -maxdepth 1 -name [A-Za-z0-9_]* ! -name *[!A-Za-z0-9._-]*'
left() { [ -n "$later" ] && [ -n "$(LC_ALL=C find . $ours -print -quit)" ]; }
# An earlier removal's error, while what it could not remove is still there (else it is stale).
failed=
if [ -n "$later" ] && [ -s .failed ]; then
  if left; then IFS= read -r failed < .failed || true; else rm -f .failed; fi
fi
moved=
for id; do
  case $id in
    ""|-*|.*|*[!A-Za-z0-9._-]*) say "refusing to remove \\"$id\\": not a release name"; exit 3 ;;
  esac
  d=$root/releases/$id m=$root/.cutover/releases/$id.json
  if [ -L "$d" ]; then say "refusing to remove $d: it is a symlink, not a release cutover made"; exit 3; fi
  if [ -e "$d" ]; then
    [ -d "$d" ] || { say "refusing to remove $d: not a directory"; exit 3; }
    { [ -f "$m" ] && grep -q -F -- "{\\"id\\":\\"$id\\"," "$m" 2>/dev/null; } || { say "refusing to remove $d: no metadata of cutover's names it"; exit 3; }
    case "$cur/" in "$rels/$id/"*) say "refusing to remove $d: current resolves to it"; exit 3 ;; esac
    if [ -n "$mounts" ]; then
      while read -r n at; do
        [ "$n" != "$id" ] || { say "refusing to remove $d: a file system is mounted at releases/$at; unmount it first"; exit 3; }
      done <<EOF
$mounts
EOF
    fi
    if [ -n "$later" ] && mv -T -- "$d" "./$id" 2>/dev/null; then moved=1; else rm -rf --one-file-system -- "$d"; fi
  fi
  rm -f -- "$m" "$root/.cutover/releases/$id.manifest"
done
# Also when nothing was moved: what a run stopped between a rename and this left there goes too.
if [ -n "$moved" ] || left; then
  # Its first error, if any, in .failed (made only then: a removal under way shows nothing else).
  setsid sh -c 'e=$(LC_ALL=C find . "$@" -exec rm -rf --one-file-system -- {} + 2>&1 >/dev/null | sed -n 1p)
if [ -n "$e" ]; then printf "%s\\n" "$e" > .failed; else rm -f .failed; fi' sh $ours </dev/null >/dev/null 2>&1 &
fi
[ -z "$failed" ] || { say "releases pruned earlier are left in $trash (remove them there by hand): $failed"; exit 3; }
`;

export function removeReleases(l: Layout, ids: readonly string[]): Cmd {
  return shProgram(REMOVE_RELEASES, [l.root, ...ids], {
    label: "remove releases, each checked on the host to be cutover's",
  });
}

/** Removes cutover's own temporary names, checked on the host like releases. */
const REMOVE_TMP = `set -e
tmp=$1; shift
for t; do
  case $t in
    current|in-place-mark|php-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z|php-check-[0-9]*) ;;
    git-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z|git-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z.tar|git-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z.src|git-mirror.??????) ;;
    *) echo "refusing to remove \\"$t\\" from $tmp: not a name cutover makes" >&2; exit 3 ;;
  esac
  rm -rf -- "$tmp/$t"
done
`;

export function removeTmp(l: Layout, names: readonly string[]): Cmd {
  return shProgram(REMOVE_TMP, [l.tmp, ...names], { label: "remove cutover's temporary names" });
}

/** Only a regular file with the probe's name: rm -f never removes a directory or follows a link. */
const REMOVE_CLOCK_PROBES = `set -e
releases=$1; shift
for p; do
  case $p in
    .cutover-clock-probe.????????) ;;
    *) echo "refusing to remove \\"$p\\" from $releases: not a name cutover makes" >&2; exit 3 ;;
  esac
  if [ -f "$releases/$p" ] && [ ! -L "$releases/$p" ]; then rm -f -- "$releases/$p"; fi
done
`;

/** The clock probes a killed run left in releases/ (see listing-stamp.ts). */
export function removeClockProbes(l: Layout, names: readonly string[]): Cmd {
  return shProgram(REMOVE_CLOCK_PROBES, [l.releases, ...names], {
    label: "remove clock probes left by a killed run",
  });
}
