import { type Cmd, shProgram } from "../shell/cmd.js";
import type { Layout } from "./layout.js";
import type { SnapshotMeta } from "./snapshot-meta.js";

/** A snapshot id as a shell pattern: a UTC timestamp like release ids. */
export const SNAPSHOT_ID = "[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z";

/** The first 16 bytes of every SQLite database ("SQLite format 3\0"), as `od -An -tx1` prints them. */
export const SQLITE_MAGIC = " 53 51 4c 69 74 65 20 66 6f 72 6d 61 74 20 33 00";

/**
 * Shell functions for a live SQLite database, which the app may swap for anything at any time:
 * `live_bytes F SKIP N FMT` prints N bytes of F from SKIP through `od -An -tFMT`, never following a
 * link and never waiting on a fifo (GNU dd's flags; where dd lacks them, as busybox's does, F is only
 * checked just before); `odd_sidecar F` says (and is true) when F's -journal, -wal or -shm is there
 * but not a regular file: SQLite opens them by name, and a fifo would hold it for good.
 */
export const LIVE_DB = `
live_bytes() {
  [ -f "$1" ] && [ ! -L "$1" ] || return 0
  if dd if=/dev/null iflag=nonblock,nofollow count=0 2>/dev/null; then
    dd if="$1" iflag=nonblock,nofollow bs=1 skip="$2" count="$3" 2>/dev/null | od -An -t"$4"
  else # a dd without these flags (busybox): the checks above have to do
    od -An -t"$4" -j"$2" -N"$3" -- "$1" 2>/dev/null
  fi
}
odd_sidecar() {
  for s in -journal -wal -shm; do
    if [ -L "$1$s" ] || { [ -e "$1$s" ] && [ ! -f "$1$s" ]; }; then
      echo "$1$s is not a regular file, so SQLite would wait on it or fail: remove it (SQLite makes these itself)" >&2
      return 0
    fi
  done
  return 1
}`;

/**
 * Takes a snapshot of DEPLOY_PATH/shared into .cutover/snapshots/<id>/shared. Immutability: files
 * are copied from shared/, never linked to it (the app may write a file in place, and a link would
 * carry that write into the snapshot); unchanged files (size and nanosecond mtime) are hard-linked
 * to the previous snapshot instead, which is safe because nothing ever writes into a snapshot.
 * SQLite databases (found by their header, not their name) are then replaced by an online backup
 * (`sqlite3 .backup`), and their -wal/-shm/-journal copies dropped. The metadata says `partial`
 * until the copy is synced; any failure (a full disk) removes the snapshot. shared/ is only read.
 * Refuses configured shared paths that are links (the data behind would not be in it).
 * Prints `sqlite\0<path>\0` for each database backed up.
 */
const CREATE = `
root=$1 id=$2 prev=$3 partial=$4 complete=$5 sqlite=$6; shift 6
snaps=$root/.cutover/snapshots
shared=$root/shared
# A configured shared path that is a link (an adopted Envoyer layout: shared/storage -> ../storage)
# would be kept as the link alone, not its data: refuse rather than keep a backup that is not one.
for p; do
  if [ -L "$shared/$p" ]; then
    echo "shared/$p is a link (to $(readlink -- "$shared/$p")): a snapshot would hold the link, not the data; move the data into shared/$p, or turn snapshots off" >&2
    exit 3
  fi
done
case $id in ${SNAPSHOT_ID}) ;; *) echo "refusing snapshot id \\"$id\\": not a snapshot id" >&2; exit 3 ;; esac
[ -d "$shared" ] || { echo "$shared is not a directory: nothing to snapshot" >&2; exit 3; }
if [ -L "$snaps" ] || { [ -e "$snaps" ] && [ ! -d "$snaps" ]; }; then
  echo "$snaps is not a directory cutover made; refusing to write there" >&2; exit 3
fi
mkdir -p -- "$snaps" || exit 1
d=$snaps/$id
mkdir -- "$d" || { echo "cannot make $d" >&2; exit 1; }
fail() { rm -rf -- "$d"; echo "snapshot $id failed and was removed ($1); shared/ was not changed" >&2; exit 1; }
printf '%s\\n' "$partial" > "$d/snapshot.json" || fail "cannot write its metadata"
set --
case $prev in ${SNAPSHOT_ID})
  if [ -d "$snaps/$prev/shared" ] && [ ! -L "$snaps/$prev" ] && [ ! -L "$snaps/$prev/shared" ]; then
    set -- "--link-dest=$snaps/$prev/shared"
  fi ;;
esac
# 23 also comes from a file the app rewrote while it was read ("read errors mapping": it shrank):
# another pass copies what still differs, as it is then; three passes at most.
pass=1
while :; do
  rsync -a --modify-window=-1 "$@" "$shared/" "$d/shared/"
  rc=$?
  [ $rc -eq 23 ] && [ $pass -lt 3 ] || break
  pass=$((pass + 1))
done
# 24: files vanished while they were copied (the app deleted them): the snapshot simply lacks them.
[ $rc -eq 0 ] || [ $rc -eq 24 ] || fail "rsync exit $rc"
mkdir -- "$d/work" || fail "cannot make its work directory"
# Databases are found among the snapshot's own copies (the app cannot change those, and find does not
# follow the links they hold), then backed up from their place in shared/ only where that place is
# still a real path under shared/ (the app may have swapped a directory for a link meanwhile).
real_shared=$(realpath -e -- "$shared") || fail "cannot resolve $shared"
find "$d/shared" -type f -size +15c -exec sh -c "$sqlite" sh "$real_shared" "$d" {} + || fail "a SQLite backup failed"
rmdir -- "$d/work" || fail "cannot remove its work directory"
sync -f -- "$d/snapshot.json" 2>/dev/null || sync
{ printf '%s\\n' "$complete" > "$d/snapshot.json.tmp" && mv -f -- "$d/snapshot.json.tmp" "$d/snapshot.json"; } ||
  fail "cannot mark it complete"
sync -f -- "$d/snapshot.json" 2>/dev/null || sync
`;

/**
 * Run by find for batches of the snapshot's files: replaces each copy of a SQLite database with an
 * online backup of the live one. Writes only inside the snapshot (real directories find walked);
 * reads the live database only through a path with no symlink in it (-nofollow for the file itself).
 */
const SQLITE = `${LIVE_DB}
src=$1 d=$2; shift 2
magic="${SQLITE_MAGIC}"
for t; do
  [ "$(od -An -tx1 -N16 -- "$t" 2>/dev/null)" = "$magic" ] || continue
  rel=\${t#"$d/shared/"}
  f=$src/$rel
  # Gone, or reached through a link since the copy: the snapshot keeps the copy it made.
  [ "$(realpath -e -- "$f" 2>/dev/null)" = "$f" ] && [ -f "$f" ] || continue
  odd_sidecar "$f" && exit 1
  command -v sqlite3 >/dev/null || {
    echo "$f is a SQLite database and sqlite3 is not installed: install it (a file copy of a live database is not consistent)" >&2
    exit 1
  }
  rm -f -- "$d/work/copy.db"
  (cd -- "$d/work" && sqlite3 -bail -nofollow "$f" ".timeout 30000" ".backup copy.db") || { echo "sqlite3 .backup of $f failed" >&2; exit 1; }
  chmod --reference="$t" -- "$d/work/copy.db" && chown --reference="$t" -- "$d/work/copy.db" 2>/dev/null
  rm -f -- "$t-wal" "$t-shm" "$t-journal"
  mv -f -- "$d/work/copy.db" "$t" || exit 1
  printf 'sqlite\\000%s\\000' "$rel"
done
`;

export function createSnapshot(
  l: Layout,
  meta: SnapshotMeta,
  linkTo: string | undefined,
  sharedPaths: readonly string[],
): Cmd {
  const text = (state: SnapshotMeta["state"]) => JSON.stringify({ ...meta, state });
  return shProgram(CREATE, [
    l.root,
    meta.id,
    linkTo ?? "",
    text("partial"),
    text("complete"),
    SQLITE,
    ...sharedPaths,
  ]);
}

/**
 * The only way cutover deletes snapshots, checked again on the host: an id-named real directory
 * whose metadata names that id, or the work directory of an interrupted restore (restore-<id>).
 */
const REMOVE = `
snaps=$1/.cutover/snapshots; shift
[ -L "$snaps" ] && { echo "$snaps is a symlink; refusing to remove anything there" >&2; exit 3; }
for n; do
  case $n in
    ${SNAPSHOT_ID}) d=$snaps/$n
      if [ -L "$d" ] || [ ! -d "$d" ]; then echo "refusing to remove $d: not a directory cutover made" >&2; exit 3; fi
      { [ -f "$d/snapshot.json" ] && grep -q -F -- "\\"id\\":\\"$n\\"" "$d/snapshot.json" 2>/dev/null; } ||
        { echo "refusing to remove $d: its metadata does not name it" >&2; exit 3; }
      # Marked partial first (or, with no room for that, unmarked) and its metadata removed last: a
      # removal cut short must never leave a "complete" snapshot that lacks files (a restore of it
      # would lose them from shared/); a partial one is never restored, and prune removes it.
      # (A fresh name from mktemp: a link planted in the snapshot is never written through.)
      { t=$(mktemp -- "$d/snapshot.json.XXXXXX") && sed -e 's/"state":"complete"/"state":"partial"/' "$d/snapshot.json" > "$t" &&
        mv -f -- "$t" "$d/snapshot.json"; } 2>/dev/null || rm -f -- "$d/snapshot.json"
      find "$d" -mindepth 1 -maxdepth 1 ! -name snapshot.json -exec rm -rf -- {} + && rm -rf -- "$d" ;;
    restore-${SNAPSHOT_ID})
      if [ -e "$snaps/$n/tree.old" ] || [ -L "$snaps/$n/tree.old" ]; then
        echo "refusing to remove $snaps/$n: its tree.old is a shared/ tree a restore could not put back" >&2; exit 3
      fi
      if [ -e "$snaps/$n/db/1.done" ] && [ ! -e "$snaps/$n/db/swapped" ]; then
        echo "refusing to remove $snaps/$n: it records the SQLite databases an interrupted restore put back in place" >&2; exit 3
      fi
      [ -L "$snaps/$n" ] || rm -rf -- "$snaps/$n" ;;
    *) echo "refusing to remove \\"$n\\": not a snapshot id" >&2; exit 3 ;;
  esac
done
`;

export function removeSnapshots(l: Layout, names: readonly string[]): Cmd {
  return shProgram(REMOVE, [l.root, ...names]);
}
