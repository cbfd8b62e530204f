import { type Cmd, shProgram } from "../shell/cmd.js";
import type { Layout } from "./layout.js";
import { LIVE_DB, SNAPSHOT_ID, SQLITE_MAGIC } from "./snapshot-cmds.js";

/** `read_name F` sets n to F's content, byte for byte (a trailing newline included). */
const READ_NAME = `read_name() { n=$(cat -- "$1" && echo .) && n=\${n%.}; }`;

/**
 * Swaps the restored tree in for shared/ in one renameat2(RENAME_EXCHANGE) (perl's syscall: every
 * Debian has perl-base), so shared/ is never missing and never half-restored; the release links
 * (`../../shared/<path>`) resolve by name, so they reach the restored tree at once. Where the kernel
 * or file system lacks the exchange, two renames back to back (a window of microseconds in which
 * shared/ is missing). Afterwards $1 holds the old tree. Prints which way it went.
 */
const EXCHANGE = `my ($new, $live, $arch) = @ARGV;
my %nr = (x86_64 => 316, aarch64 => 276, riscv64 => 276, i686 => 353, i386 => 353, armv7l => 382, ppc64le => 357, s390x => 347);
if (exists $nr{$arch} && syscall($nr{$arch}, -100, $new, -100, $live, 2) == 0) { print "exchange\\n"; exit 0; }
rename($live, "$new.old") or die "cannot move $live aside: $!\\n";
rename($new, $live) or do { my $e = $!; rename("$new.old", $live); die "cannot rename the restored tree in: $e\\n"; };
rename("$new.old", $new) or die "cannot move the old tree to $new: $!\\n";
print "renames\\n";
`;

/**
 * Run by find over the restored tree's files (args: tree, real shared/, db dir, the directory the
 * files are in: the tree, or the snapshot taken just before; files). A SQLite database there whose
 * live counterpart is a database at a real path under shared/ cannot simply be swapped: the app's
 * connections keep the live file open and open its -wal/-shm by name, so after a swap they would
 * mix two databases (seen: "database disk image is malformed"). Such a copy moves to db/N.db, its
 * names to N.rel and N.path, to be restored into the live file in place.
 * `.restore` cannot change a WAL database's page size, so a copy with another one takes the live one.
 */
const PICK = `${LIVE_DB}
tree=$1 shared=$2 db=$3 from=$4; shift 4
magic="${SQLITE_MAGIC}"
pagesize() { live_bytes "$1" 16 2 u1 | awk '{ n = $1 * 256 + $2; print n == 1 ? 65536 : n }'; }
real_tree=$(realpath -e -- "$tree") || exit 1
i=1; while [ -e "$db/$i.rel" ]; do i=$((i + 1)); done
for t; do
  # An empty file is an empty database to SQLite (Laravel's \`touch database.sqlite\`).
  [ ! -s "$t" ] || [ "$(od -An -tx1 -N16 -- "$t" 2>/dev/null)" = "$magic" ] || continue
  rel=\${t#"$from/"}
  f=$shared/$rel
  if [ "$from" != "$tree" ]; then
    # From the snapshot taken just before: a live database the restored tree lacks. Removed, it would
    # meet the same mixing (a connection from before the swap makes its -wal in the new tree, where a
    # new connection makes the database anew); restored in place as an empty database instead, where
    # the restored tree has its directory (a real one: it will be linked into).
    { [ -e "$tree/$rel" ] || [ -L "$tree/$rel" ]; } && continue
    case $rel in */*) parent=/\${rel%/*} ;; *) parent= ;; esac
    [ "$(realpath -e -- "$tree$parent" 2>/dev/null)" = "$real_tree$parent" ] || continue
  fi
  [ "$(realpath -e -- "$f" 2>/dev/null)" = "$f" ] && [ -f "$f" ] || continue
  [ "$(live_bytes "$f" 0 16 x1)" = "$magic" ] || continue
  command -v sqlite3 >/dev/null || {
    echo "$f is a SQLite database and sqlite3 is not installed: install it (a live database is restored through SQLite)" >&2
    exit 1
  }
  if [ "$from" = "$tree" ]; then mv -- "$t" "$db/$i.db"; else : > "$db/$i.db" && : > "$db/$i.empty"; fi &&
    printf '%s' "$rel" > "$db/$i.rel" && printf '%s' "$f" > "$db/$i.path" || exit 1
  live=$(pagesize "$f")
  if [ "$(live_bytes "$f" 18 1 u1 | tr -d ' ')" = 2 ] && [ "$(pagesize "$db/$i.db")" != "$live" ]; then
    (cd -- "$db" && sqlite3 -bail "$i.db" "PRAGMA journal_mode=DELETE" "PRAGMA page_size=$live" "VACUUM" >/dev/null) ||
      { echo "cannot give the copy of $rel the live page size $live" >&2; exit 1; }
  fi
  i=$((i + 1))
done
`;

/**
 * hold.sh G, run in the db directory once every database there is restored in place: holds
 * databases G..G+7 (what one sqlite3 attaches, with room) with BEGIN EXCLUSIVE (no other writer,
 * and, as a WAL reader, no connection can delete the -wal; a checkpoint may run, into the same
 * files) while it runs hold.sh for the next group. The last one links each live database and its
 * -wal/-shm into the restored tree and swaps the tree in: every name the app may open, before the
 * swap or after, reaches the same files. Success leaves `swapped` holding how the swap went.
 */
const HOLD = `${LIVE_DB}
${READ_NAME}
g=$1
if [ -e "$g.rel" ]; then
  set -- ".timeout 30000"
  i=$g
  while [ "$i" -lt $((g + 8)) ] && [ -e "$i.rel" ]; do
    read_name "$i.path" && ! odd_sidecar "$n" || exit 0
    # One the app deleted since its restore is not attached (ATTACH would make it anew, empty, and
    # that would be linked in): the link step puts the snapshot's copy in. mode=rw: never made here.
    [ ! -f "$n" ] || set -- "$@" "ATTACH 'file:' || replace(replace(replace(CAST(readfile('$i.path') AS TEXT), '%', '%25'), '?', '%3f'), '#', '%23') || '?mode=rw' AS d$i"
    i=$((i + 1))
  done
  sqlite3 -bail -nofollow :memory: "$@" "BEGIN EXCLUSIVE" ".system sh hold.sh $i" "COMMIT" >/dev/null || true
  exit 0
fi
i=1
while [ -e "$i.rel" ]; do
  read_name "$i.rel" && rel=$n && read_name "$i.path" && f=$n || exit 0
  # The tree's own copies at these names go (a stale -journal there would be taken for a hot one);
  # a directory there is app data: ln -T then fails, and so does the restore, before the swap.
  for s in "" -wal -shm -journal; do rm -f -- "$CUTOVER_TREE/$rel$s"; done
  # Linked from inside the live file's directory, once it is shown to be the real one under shared/:
  # cd pins it, so a directory the app swaps for a link now cannot send ln elsewhere. (pwd's output
  # is compared whole: $(...) alone would drop a newline ending the directory's name.)
  if ! (cd -- "\${f%/*}" && p=$(pwd -P && echo .) && [ "\${p%?.}" = "\${f%/*}" ] && [ -f "\${f##*/}" ] && [ ! -L "\${f##*/}" ] || exit 1
    for s in "" -wal -shm; do
      { [ -f "\${f##*/}$s" ] && [ ! -L "\${f##*/}$s" ]; } || continue
      ln -T -- "\${f##*/}$s" "$CUTOVER_TREE/$rel$s" || exit 1
    done); then
    # The app deleted or moved the live file meanwhile: the snapshot's copy goes in as a file.
    ln -T -- "$i.db" "$CUTOVER_TREE/$rel" || exit 0
  fi
  i=$((i + 1))
done
perl -e "$CUTOVER_EXCHANGE" -- "$CUTOVER_TREE" "$CUTOVER_SHARED" "$(uname -m)" > swap.tmp && mv -f -- swap.tmp swapped
`;

/**
 * awk over /proc/self/mountinfo: prints the first mount point under $CUTOVER_UNDER (ending in /),
 * relative to it. The kernel writes space, tab, newline and backslash in mount points as \\ooo escapes.
 */
export const MOUNT_UNDER = `function decoded(s, out, i) {
  out = ""
  for (i = 1; i <= length(s); i++)
    if (substr(s, i, 1) == "\\\\" && substr(s, i + 1, 3) ~ /^[0-7][0-7][0-7]$/) {
      out = out sprintf("%c", substr(s, i + 1, 1) * 64 + substr(s, i + 2, 1) * 8 + substr(s, i + 3, 1)); i += 3
    } else out = out substr(s, i, 1)
  return out
}
{ m = decoded($5); if (index(m, ENVIRON["CUTOVER_UNDER"]) == 1) { print substr(m, length(ENVIRON["CUTOVER_UNDER"]) + 1); exit } }`;

/**
 * Restores a complete snapshot: copies its tree (a copy, never links: the app will write to it) to
 * .cutover/snapshots/restore-<id>/tree on the file system of shared/, restores live SQLite databases
 * in place (PICK, HOLD), and swaps the tree in; the old tree is removed. Checked on the host: the id's
 * format, a real directory whose metadata names that id and says complete, shared/ a real directory
 * on the same file system. Prints `sqlite\0<path>\0` per database restored in place, then
 * `swap\0exchange\0` (or renames, or unrecorded: swapped, but the record of how was lost).
 */
const RESTORE = `${LIVE_DB}
${READ_NAME}
MOUNT_UNDER='${MOUNT_UNDER}'
root=$1 id=$2 saved=$3 exchange=$4 pick=$5 hold=$6
snaps=$root/.cutover/snapshots
shared=$root/shared
d=$snaps/$id
work=$snaps/restore-$id
case $id in ${SNAPSHOT_ID}) ;; *) echo "refusing to restore \\"$id\\": not a snapshot id" >&2; exit 3 ;; esac
if [ -L "$snaps" ] || [ -L "$d" ] || [ -L "$d/shared" ] || [ ! -d "$d/shared" ]; then
  echo "snapshot $id has no tree cutover made on this host" >&2; exit 3
fi
[ -f "$d/snapshot.json" ] && grep -q -F -- "\\"id\\":\\"$id\\"" "$d/snapshot.json" && grep -q -F -- '"state":"complete"' "$d/snapshot.json" ||
  { echo "snapshot $id is not complete; refusing to restore it" >&2; exit 3; }
if [ -L "$shared" ] || [ ! -d "$shared" ]; then
  echo "$shared is not a real directory; restore renames a directory in its place, so it refuses" >&2; exit 3
fi
command -v perl >/dev/null || { echo "restore needs perl on the host (for one atomic rename exchange)" >&2; exit 3; }
[ "$(stat -c %d -- "$snaps")" = "$(stat -c %d -- "$shared")" ] ||
  { echo "$shared is on another file system than $snaps: the restored tree cannot be renamed in" >&2; exit 3; }
# A file system mounted inside shared/ (uploads on NFS, a bind mount) would leave with the old tree
# and be emptied with it: refused, naming it.
CUTOVER_UNDER=$(realpath -e -- "$shared")/ || { echo "cannot resolve $shared" >&2; exit 1; }
export CUTOVER_UNDER
mounted=$(awk "$MOUNT_UNDER" /proc/self/mountinfo) ||
  { echo "cannot read /proc/self/mountinfo to check for file systems mounted inside $shared; refusing to restore" >&2; exit 3; }
if [ -n "$mounted" ]; then
  echo "shared/$mounted is a mount point: a restore swaps shared/ whole, so that file system would leave with the old tree and be emptied; restore what is on it by hand, or move the mount out of shared/ (a link to it, kept by snapshots as a link)" >&2; exit 3
fi
# Where the fallback's two renames park the live shared/: if both the second rename and the one back
# failed, it is still there, and no later run may remove it with the work directory.
for parked in "$work/tree.old" "$work.old"; do
  if [ -e "$parked" ] || [ -L "$parked" ]; then
    echo "$parked is a shared/ tree an earlier restore could not put back: move it back (mv -T) or away, then restore" >&2; exit 3
  fi
done
fail() { rm -rf -- "$work"; echo "$1; shared/ was not changed" >&2; exit 1; }
rm -rf -- "$work"
mkdir -- "$work" "$work/db" || fail "cannot make $work"
rsync -a "$d/shared/" "$work/tree/" || fail "copying snapshot $id failed (rsync exit $?)"
real_shared=$(realpath -e -- "$shared") || fail "cannot resolve $shared"
before=$snaps/$saved
# First the live databases the tree lacks (before the next pass moves the tree's own out of it).
case $saved in ${SNAPSHOT_ID})
  if [ -d "$before/shared" ] && [ ! -L "$before" ] && [ ! -L "$before/shared" ]; then
    find "$before/shared" -type f -size +15c -exec sh -c "$pick" sh "$work/tree" "$real_shared" "$work/db" "$before/shared" {} + ||
      fail "cannot list the live SQLite databases the snapshot lacks"
  fi ;;
esac
find "$work/tree" -type f \\( -size +15c -o -empty \\) -exec sh -c "$pick" sh "$work/tree" "$real_shared" "$work/db" "$work/tree" {} + ||
  fail "cannot set the snapshot's SQLite databases aside"
sync -f -- "$work/tree" 2>/dev/null || sync
# Each database in turn, through SQLite's backup API (one transaction the app's connections see
# whole; the live path reaches ATTACH through readfile(), so no path is quoted into SQL); N.done
# marks one restored. Then all are held while the tree is swapped in.
i=1
while [ -e "$work/db/$i.rel" ]; do
  read_name "$work/db/$i.path" && ! odd_sidecar "$n" &&
    (cd -- "$work/db" && sqlite3 -bail -nofollow :memory: ".timeout 30000" "ATTACH CAST(readfile('$i.path') AS TEXT) AS live" ".restore live $i.db") &&
    : > "$work/db/$i.done" || break
  i=$((i + 1))
done
tree_id=$(stat -c %d:%i -- "$work/tree") || fail "cannot stat $work/tree"
if [ ! -e "$work/db/$i.rel" ]; then
  printf '%s\\n' "$hold" > "$work/db/hold.sh" || fail "cannot write $work/db/hold.sh"
  (cd -- "$work/db" && CUTOVER_TREE=$work/tree CUTOVER_SHARED=$shared CUTOVER_EXCHANGE=$exchange sh hold.sh 1)
fi
how=$(cat -- "$work/db/swapped" 2>/dev/null)
# The tree is shared/ now even if its record was lost (perl's output on a full disk): it was swapped.
[ -z "$how" ] && [ "$(stat -c %d:%i -- "$shared" 2>/dev/null)" = "$tree_id" ] && how=unrecorded
if [ -z "$how" ] && { [ -e "$work/tree.old" ] || [ -L "$work/tree.old" ]; }; then
  echo "restoring snapshot $id failed midway and could not put shared/ back: the live shared/ is at $work/tree.old; move it back with mv -T" >&2
  exit 1
fi
if [ -z "$how" ]; then
  restored=
  i=1; while [ -e "$work/db/$i.rel" ]; do
    [ -e "$work/db/$i.done" ] && restored="$restored \\"$(cat -- "$work/db/$i.rel")\\"$([ -e "$work/db/$i.empty" ] && echo " (emptied: the snapshot lacks it)")"
    i=$((i + 1))
  done
  [ -z "$restored" ] && fail "restoring snapshot $id failed"
  rm -rf -- "$work"
  echo "restoring snapshot $id failed before shared/ was swapped, but these SQLite databases in it already hold the snapshot's rows:$restored (snapshot $saved, taken just before, has their rows from before)" >&2
  exit 1
fi
sync -f -- "$shared" 2>/dev/null || sync
i=1; while [ -e "$work/db/$i.rel" ]; do printf 'sqlite\\000%s\\000' "$(cat -- "$work/db/$i.rel")"; i=$((i + 1)); done
printf 'swap\\000%s\\000' "$how"
rm -rf -- "$work"
# shared/ is now wholly this snapshot: an earlier restore cut short no longer describes it.
for w in "$snaps"/restore-${SNAPSHOT_ID}; do
  if [ -d "$w" ] && [ ! -L "$w" ] && [ ! -e "$w/tree.old" ] && [ ! -L "$w/tree.old" ]; then rm -rf -- "$w"; fi
done
`;

/** `saved`: the snapshot of the live shared/ taken just before, named if the restore fails midway. */
export function restoreSnapshot(l: Layout, id: string, saved: string): Cmd {
  return shProgram(RESTORE, [l.root, id, saved, EXCHANGE, PICK, HOLD]);
}
