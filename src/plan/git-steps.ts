import path from "node:path/posix";
import { credentialRewrite, localSubmoduleRefusal, noHelperConfig } from "../config/git-source.js";
import type { GitSource } from "../config/types.js";
import { type Cmd, cmd, shProgram } from "../shell/cmd.js";
import type { Layout } from "./layout.js";
import { PARENTS_ARE_DIRECTORIES } from "./release-paths.js";
import { SEED_LEFTOVERS, SEED_MARK } from "./seed-leftovers.js";

/**
 * git on a host: no prompts, no hooks or fsmonitor from a repository config cutover did not write,
 * no replacement objects (refs/replace/ could swap the content of the commit), and archives with
 * 0644/0755 modes (git's default umask 002 would make the code group-writable).
 */
const GIT = `g() { GIT_TERMINAL_PROMPT=0 GIT_NO_REPLACE_OBJECTS=1 git -c core.hooksPath=/dev/null -c core.fsmonitor=false -c tar.umask=0022 --git-dir="$repo" "$@"; }
fail() { printf 'cutover: %s\\n' "$*" >&2; exit 3; }
`;

/**
 * With $nohelper set (credential.<server>.helper, for a URL that carries its credentials), git
 * runs no credential helper for that server: it would store the URL's token on disk.
 */
const NO_HELPER = `if [ -n "$nohelper" ]; then
  n=\${GIT_CONFIG_COUNT:-0}
  export "GIT_CONFIG_KEY_$n=$nohelper" "GIT_CONFIG_VALUE_$n=" GIT_CONFIG_COUNT=$((n + 1))
fi
`;

/**
 * Sets $unsafe to what makes an existing mirror one cutover will not use (empty when none): settings
 * git init and cutover did not write (core.sshCommand, url.*.insteadOf, include.path... could run or
 * redirect); a symlink inside (git writes FETCH_HEAD, refs and objects through it); what changes the
 * extracted content or reads objects from elsewhere (replace refs, grafts, shallow, alternates,
 * commondir, info/attributes with export-ignore/export-subst).
 */
const MIRROR_UNSAFE = `unsafe=
extra=$(g config --local --name-only --list 2>/dev/null | grep -v -x -e core.repositoryformatversion -e core.filemode -e core.bare -e core.logallrefupdates -e core.ignorecase -e core.precomposeunicode -e core.symlinks -e extensions.objectformat -e cutover.origin | tr '\\n' ' ') || true
link=$(find "$repo" -type l -print 2>/dev/null | head -n 1) || true
if [ -n "$extra" ]; then unsafe="settings cutover did not write ($extra)"
elif [ -n "$link" ]; then unsafe="a symlink inside ($link)"
else
  for f in info/attributes info/grafts shallow commondir objects/info/alternates objects/info/http-alternates; do
    if [ -e "$repo/$f" ]; then unsafe="$f, which cutover did not write"; break; fi
  done
  if [ -z "$unsafe" ] && [ -n "$(g for-each-ref --count=1 --format=x refs/replace/ 2>/dev/null)" ]; then unsafe="refs/replace/, which cutover did not write"; fi
fi
`;

/**
 * The host's bare mirror of the repository: made on the first deploy (in .cutover/tmp, then
 * renamed), refused when it is a symlink, not a bare repository, a mirror of another repository,
 * or unsafe (MIRROR_UNSAFE); then it fetches what is new (branches and tags, forced, so a force-push
 * is followed; no FETCH_HEAD written) and must end up holding the commit. The URL may carry a token: it is passed on each fetch, and
 * only the URL without credentials (`shown`) is stored in the mirror.
 */
const MIRROR = `set -e
repo=$1 url=$2 shown=$3 commit=$4 tmp=$5 nohelper=$6
${GIT}${NO_HELPER}
if [ -L "$repo" ]; then fail "$repo is a symlink; cutover does not follow it: move it away, then deploy again"; fi
if [ -e "$repo" ]; then
  [ -d "$repo" ] || fail "$repo is not a directory: move it away, then deploy again"
  [ "$(g rev-parse --is-bare-repository 2>/dev/null)" = true ] || fail "$repo is not a bare git repository: move it away, then deploy again"
  origin=$(g config --get cutover.origin 2>/dev/null) || origin=
  [ "$origin" = "$shown" ] || fail "$repo mirrors another repository (\${origin:-unknown}), not $shown: move it away, then deploy again"
${MIRROR_UNSAFE}  [ -z "$unsafe" ] || fail "$repo has $unsafe: move it away, then deploy again"
  # Only a deploy, under the host's lock, runs git that writes here: a lock file is a killed run's
  # (a SIGKILLed fetch leaves refs/heads/NAME.lock, and git refuses that ref until it goes).
  find "$repo" -path "$repo/objects" -prune -o -name '*.lock' -type f -exec rm -f -- {} +
else
  new=$(mktemp -d -- "$tmp/git-mirror.XXXXXX")
  git init -q --bare -- "$new"
  git --git-dir="$new" config cutover.origin "$shown"
  mv -T -- "$new" "$repo"
fi
g fetch -q --no-write-fetch-head --prune --no-tags --force -- "$url" '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*'
if ! g cat-file -e "$commit^{commit}" 2>/dev/null; then
  g fetch -q --no-write-fetch-head --no-tags -- "$url" "$commit" 2>/dev/null || true
fi
g cat-file -e "$commit^{commit}" 2>/dev/null || fail "commit $commit is not in $shown (fetched into $repo)"
`;

/**
 * Extracts a tree of the commit into a staging directory (never a checkout into a live tree):
 * `git archive`; or, with submodules (`url` set), a throwaway clone sharing the mirror's objects,
 * checked out at the commit with its submodules, copied without .git. Then seeds the shared
 * directories the host lacks from it (never over existing data, never through a symlinked parent).
 *
 * `mkdir "$staging"` refuses any existing name, a planted symlink too (release ids are predictable):
 * everything is written inside that new directory (archive.tar, tree/, src/). The clone's origin is
 * the URL without credentials; a token reaches git as an insteadOf rewrite in the environment
 * (GIT_CONFIG_*), so it is never written to the clone's config.
 */
const REFUSED = localSubmoduleRefusal("$bad", "$badurl");
const REFUSAL = `${REFUSED.message}; ${REFUSED.fix}`;

const EXTRACT = `set -e
repo=$1 commit=$2 sub=$3 staging=$4 shared=$5 url=$6 cred=$7 plain=$8 nohelper=$9 fileallow=\${10}; shift 10
${GIT}${NO_HELPER}${SEED_LEFTOVERS}
if [ -n "$sub" ]; then tree=$commit:$sub; else tree=$commit^{tree}; fi
[ "$(g cat-file -t "$tree" 2>/dev/null)" = tree ] || fail "$tree is not a directory of the repository (check repository_path)"
mkdir -- "$staging" || fail "$staging already exists: a leftover, or planted; the next deploy's cleanup removes cutover's own"
# On failure the clone (its config names the repository) and a half-copied seed go at once.
src= seed=
trap '[ -z "$src" ] || rm -rf -- "$src"; [ -z "$seed" ] || drop_seed "$seed" || :' EXIT
mkdir -- "$staging/tree"
if [ -z "$url" ]; then
  g archive --format=tar -o "$staging/archive.tar" "$tree"
  tar -x --no-same-owner -f "$staging/archive.tar" -C "$staging/tree"
  rm -f -- "$staging/archive.tar"
else
  src=$staging/src
  if [ -n "$cred" ]; then
    n=\${GIT_CONFIG_COUNT:-0}
    export "GIT_CONFIG_KEY_$n=url.$cred.insteadOf" "GIT_CONFIG_VALUE_$n=$plain" GIT_CONFIG_COUNT=$((n + 1))
  fi
  GIT_NO_REPLACE_OBJECTS=1 git clone -q --shared --no-checkout -- "$repo" "$src"
  # protocol.*.allow set here, whatever the host's git config says: a .gitmodules the deployer does
  # not control must not clone a local repository (a path, file://) into the release unless allowed.
  w() { GIT_TERMINAL_PROMPT=0 GIT_NO_REPLACE_OBJECTS=1 git -c core.hooksPath=/dev/null -c advice.detachedHead=false -c protocol.file.allow="$fileallow" -c protocol.ext.allow=never -C "$src" "$@"; }
  # Relative submodule URLs are relative to the repository, not to the mirror.
  w remote set-url origin "$url"
  w checkout -q "$commit"
  if ! err=$(export LC_ALL=C; w submodule update -q --init --recursive 2>&1 >/dev/null); then
    clone="s/^fatal: clone of '\\(.*\\)' into submodule path '\\(.*\\)' failed$/"
    bad=$(printf '%s\n' "$err" | sed -n "$clone\\2/p" | head -n 1)
    badurl=$(printf '%s\n' "$err" | sed -n "$clone\\1/p" | head -n 1)
    bad=\${bad#"$src/"}
    case $err in *"transport 'file' not allowed"*) [ -z "$bad" ] || fail "${REFUSAL}" ;; esac
    printf '%s\n' "$err" >&2
    exit 1
  fi
  rsync -a --exclude=.git -- "$src/\${sub:+$sub/}" "$staging/tree/"
fi
for p; do
  clean_seeds "$p"
  # A symlink above it in the commit's tree (data -> /elsewhere) would seed shared/ from outside the release.
  at=$staging/tree rest=$p
  while :; do
    case $rest in */*) part=\${rest%%/*} rest=\${rest#*/} ;; *) break ;; esac
    at=$at/$part
    [ ! -L "$at" ] || fail "\${at#"$staging/tree/"} is a symlink in commit $commit; shared dir $p is never seeded through it: make it a directory in the repository, or change shared_dirs"
  done
  if [ -d "$staging/tree/$p" ] && [ ! -L "$staging/tree/$p" ] && [ ! -e "$shared/$p" ] && [ ! -L "$shared/$p" ]; then
    rel=$shared
    ${PARENTS_ARE_DIRECTORIES.trimEnd().split("\n").join("\n    ")}
    mkdir -p -- "$(dirname -- "$shared/$p")"
    # Copied under a new name beside it, then renamed: a name planted meanwhile is replaced, not written through.
    # The mark goes in first: a run killed later leaves a seed the next one can prove is its own.
    # Filled from inside it (cd), and removed so (drop_seed): the app's user may rename entries of
    # shared/ meanwhile, and another directory renamed to its name is neither written nor removed.
    seed=$(mktemp -d -- "$shared/$p.cutover-seed.XXXXXX")
    (
      cd -P -- "$seed"
      printf '%s\n' "${SEED_MARK}" > .cutover-seed
      mkdir -- tree
      cp -a -- "$staging/tree/$p/." tree/
      mv -T -- tree "$shared/$p"
    )
    s=$seed seed=
    drop_seed "$s" || warn_seed "$s"
  fi
done
`;

/** The commit's author, date and subject, as the host's mirror has them (NUL-separated). */
const DESCRIBE = `set -e
repo=$1 commit=$2
${GIT}
g log -1 --no-show-signature --format='%an <%ae>%x00%aI%x00%s' "$commit" --
`;

export function gitMirrorDir(l: Layout): string {
  return path.join(l.meta, "repo");
}

export function gitStagingDir(l: Layout, releaseId: string): string {
  return path.join(l.tmp, `git-${releaseId}`);
}

/** The NO_HELPER argument: the key that turns credential helpers off, for a URL with credentials. */
function noHelper(git: GitSource): string {
  const rewrite = credentialRewrite(git.repository);
  return rewrite ? noHelperConfig(rewrite.scope)[0] : "";
}

export function mirrorFetch(l: Layout, git: GitSource, commit: string): Cmd {
  return shProgram(MIRROR, [gitMirrorDir(l), git.repository, git.shown, commit, l.tmp, noHelper(git)], {
    label: "fetch into the mirror",
  });
}

/**
 * Builds the release from the commit: extract into staging, then rsync into the release with
 * unchanged files hard-linked to earlier releases. Content decides (--checksum, mtimes not kept):
 * an archive's files all carry the commit's time, so mtimes say nothing.
 */
/** Its stdout's `cutover-warning:` lines are warnings (seed-leftovers.ts); the run step shows them. */
export function extractCommit(input: {
  readonly l: Layout;
  readonly git: GitSource;
  readonly commit: string;
  readonly releaseId: string;
  readonly seedDirs: readonly string[];
  readonly linkDest: readonly string[];
  readonly exclude: readonly string[];
}): Cmd[] {
  const { l, git, commit, releaseId } = input;
  const staging = gitStagingDir(l, releaseId);
  const rewrite = git.submodules ? credentialRewrite(git.repository) : undefined;
  const args = [gitMirrorDir(l), commit, git.path ?? "", staging, l.shared];
  args.push(git.submodules ? git.shown : "", rewrite?.base ?? "", rewrite?.prefix ?? "", noHelper(git));
  args.push(git.submodulesAllowLocal ? "always" : "never");
  return [
    shProgram(EXTRACT, [...args, ...input.seedDirs], {
      label: git.submodules ? "check out with submodules into staging" : "git archive into staging",
    }),
    cmd([
      "rsync",
      "-rlpgoD",
      "--checksum",
      ...input.linkDest.map((d) => `--link-dest=${d}`),
      ...input.exclude.map((x) => `--exclude=${x}`),
      "--",
      `${staging}/tree/`,
      `${l.release(releaseId)}/`,
    ]),
    cmd(["rm", "-rf", "--", staging]),
  ];
}

export function describeCommit(l: Layout, commit: string): Cmd {
  return shProgram(DESCRIBE, [gitMirrorDir(l), commit], { label: "read commit details" });
}

/** doctor: the mirror's state (what a deploy would refuse) and whether the host's git reaches the repository (reads only). */
const CHECK = `repo=$1 url=$2 shown=$3 nohelper=$4
${GIT}${NO_HELPER}export GIT_TERMINAL_PROMPT=0
if [ -L "$repo" ]; then echo "mirror symlink"
elif [ ! -e "$repo" ]; then echo "mirror missing"
elif [ "$(g rev-parse --is-bare-repository 2>/dev/null)" != true ]; then echo "mirror notbare"
else
  o=$(g config --get cutover.origin 2>/dev/null) || o=
  if [ "$o" != "$shown" ]; then printf 'mirror other %s\\n' "$o"
  else
${MIRROR_UNSAFE.trimEnd().replace(/^/gm, "    ")}
    if [ -n "$unsafe" ]; then printf 'mirror unsafe %s\\n' "$unsafe"; else echo "mirror ok"; fi
  fi
fi
if out=$(timeout 60 git ls-remote -- "$url" HEAD 2>&1 >/dev/null); then echo "reach ok"
else printf 'reach fail %s\\n' "$(printf '%s\\n' "$out" | grep -v '^$' | tail -n 3 | tr '\\n' ' ')"; fi
`;

export function gitCheckProbe(l: Layout, git: GitSource): Cmd {
  return shProgram(CHECK, [gitMirrorDir(l), git.repository, git.shown, noHelper(git)], {
    label: "check the git mirror",
  });
}
