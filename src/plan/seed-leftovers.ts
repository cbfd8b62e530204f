import { MOUNT_UNDER } from "./snapshot-restore.js";

/**
 * Shell for strategy: git's seeding of shared dirs. A seed is made beside its shared dir as
 * `<p>.cutover-seed.XXXXXX` (mktemp -d), holding SEED_MARK in `.cutover-seed` (written first) and
 * the copy in `tree/`, which is then renamed to `<p>`. A run killed midway leaves that directory:
 * `clean_seeds P` removes those it can prove are its own (exact name; a real directory of this
 * user, not through a symlinked parent; empty, or holding nothing but this user's mark and a real
 * `tree/`, no file system mounted inside), checked and emptied from inside it (drop_seed), as the
 * seeding itself writes it. Anything else at such a name (a link, someone's data, an older
 * cutover's unmarked seed) stays, and a `cutover-warning:` line on stdout says so: the engine shows
 * it as a warning.
 */
export const SEED_MARK = "cutover shared dir seed";

export const SEED_LEFTOVERS = `SEED_MOUNT_UNDER='${MOUNT_UNDER}'
own_seed() {
  [ -d "$1" ] && [ ! -L "$1" ] && [ -O "$1" ] || return 1
  [ -f "$1/.cutover-seed" ] && [ ! -L "$1/.cutover-seed" ] && [ -O "$1/.cutover-seed" ] || return 1
  # Its head only: a huge file planted there is not read whole.
  [ "$(head -c 64 -- "$1/.cutover-seed")" = "${SEED_MARK}" ] || return 1
  for e in "$1"/* "$1"/.[!.]* "$1"/..?*; do
    case $e in
      "$1/.cutover-seed") ;;
      "$1/tree") [ -d "$e" ] && [ ! -L "$e" ] && [ -O "$e" ] || return 1 ;;
      *) if [ -e "$e" ] || [ -L "$e" ]; then return 1; fi ;;
    esac
  done
}
# Removes seed $1 if it is cutover's own (else exit status 3), checked and emptied from inside it
# (cd): a directory renamed to its name meanwhile (shared/storage/logs, by the app's user) is not
# what rm removes. Then the emptied seed itself, by the name getcwd gives now (dash's pwd -P is the
# name at cd): an empty directory only.
drop_seed() {
  ( [ ! -L "$1" ] && cd -P -- "$1" 2>/dev/null && own_seed . || exit 3
    # A file system mounted inside it (rm -rf would empty it), or no way to tell: not provably its own.
    mounted=$(CUTOVER_UNDER=$(env pwd -P)/ awk "$SEED_MOUNT_UNDER" /proc/self/mountinfo) && [ -z "$mounted" ] || exit 3
    rm -rf -- tree .cutover-seed || exit 1
    rmdir -- "$(env pwd -P)" 2>/dev/null || : )
}
warn_seed() {
  printf 'cutover-warning: shared/%s is not a seed cutover can prove is its own (a link, or data); left as it is: move it away if it is a leftover\\n' "\${1#"$shared/"}"
}
clean_seeds() {
  at=$shared rest=$1
  while :; do
    case $rest in */*) part=\${rest%%/*} rest=\${rest#*/} ;; *) break ;; esac
    at=$at/$part
    # Only in real directories: never through a symlinked parent (shared/storage -> /elsewhere).
    if [ -L "$at" ] || [ ! -d "$at" ]; then return 0; fi
  done
  for s in "$shared/$1".cutover-seed.??????; do
    if [ ! -e "$s" ] && [ ! -L "$s" ]; then continue; fi
    case \${s##*.} in *[!A-Za-z0-9]*) continue ;; esac
    # Empty: killed right after mktemp (rmdir removes nothing else).
    if [ -d "$s" ] && [ ! -L "$s" ] && rmdir -- "$s" 2>/dev/null; then continue; fi
    rc=0
    drop_seed "$s" || rc=$?
    if [ "$rc" = 3 ]; then warn_seed "$s"; elif [ "$rc" != 0 ]; then exit "$rc"; fi
  done
}
`;
