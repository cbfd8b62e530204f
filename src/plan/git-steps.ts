import path from "node:path/posix";
import type { GitSource } from "../config/types.js";
import { type Cmd, cmd, shProgram } from "../shell/cmd.js";
import type { Layout } from "./layout.js";

/**
 * git on a host: no prompts, no hooks or fsmonitor from a repository config cutover did not write,
 * and archives with 0644/0755 modes (git's default umask 002 would make the code group-writable).
 */
const GIT = `g() { GIT_TERMINAL_PROMPT=0 git -c core.hooksPath=/dev/null -c core.fsmonitor=false -c tar.umask=0022 --git-dir="$repo" "$@"; }
fail() { printf 'cutover: %s\\n' "$*" >&2; exit 3; }
`;

/**
 * The host's bare mirror of the repository: made on the first deploy (in .cutover/tmp, then
 * renamed), refused when it is a symlink, not a bare repository, a mirror of another repository,
 * or has settings cutover did not write; then it fetches what is new (branches and tags, forced, so a force-push is followed)
 * and must end up holding the commit. The URL may carry a token: it is passed on each fetch, and
 * only the URL without credentials (`shown`) is stored in the mirror.
 */
const MIRROR = `set -e
repo=$1 url=$2 shown=$3 commit=$4 tmp=$5
${GIT}
if [ -L "$repo" ]; then fail "$repo is a symlink; cutover does not follow it: move it away, then deploy again"; fi
if [ -e "$repo" ]; then
  [ -d "$repo" ] || fail "$repo is not a directory: move it away, then deploy again"
  [ "$(g rev-parse --is-bare-repository 2>/dev/null)" = true ] || fail "$repo is not a bare git repository: move it away, then deploy again"
  origin=$(g config --get cutover.origin 2>/dev/null) || origin=
  [ "$origin" = "$shown" ] || fail "$repo mirrors another repository (\${origin:-unknown}), not $shown: move it away, then deploy again"
  # Settings git init and cutover did not write (core.sshCommand, url.*.insteadOf, include.path...) could run or redirect.
  extra=$(g config --local --name-only --list 2>/dev/null | grep -v -x -e core.repositoryformatversion -e core.filemode -e core.bare -e core.logallrefupdates -e core.ignorecase -e core.precomposeunicode -e core.symlinks -e extensions.objectformat -e cutover.origin | tr '\\n' ' ') || true
  [ -z "$extra" ] || fail "$repo has settings cutover did not write ($extra): move it away, then deploy again"
else
  new=$(mktemp -d -- "$tmp/git-mirror.XXXXXX")
  git init -q --bare -- "$new"
  git --git-dir="$new" config cutover.origin "$shown"
  mv -T -- "$new" "$repo"
fi
g fetch -q --prune --no-tags --force -- "$url" '+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*'
if ! g cat-file -e "$commit^{commit}" 2>/dev/null; then
  g fetch -q --no-tags -- "$url" "$commit" 2>/dev/null || true
fi
g cat-file -e "$commit^{commit}" 2>/dev/null || fail "commit $commit is not in $shown (fetched into $repo)"
`;

/**
 * Extracts a tree of the commit into a staging directory (never a checkout into a live tree):
 * `git archive`; or, with submodules (`url` set), a throwaway clone sharing the mirror's objects,
 * checked out at the commit with its submodules, copied without .git. Then seeds the shared
 * directories the host lacks from it (never over existing data).
 */
const EXTRACT = `set -e
repo=$1 commit=$2 sub=$3 staging=$4 shared=$5 url=$6; shift 6
${GIT}
if [ -n "$sub" ]; then tree=$commit:$sub; else tree=$commit^{tree}; fi
[ "$(g cat-file -t "$tree" 2>/dev/null)" = tree ] || fail "$tree is not a directory of the repository (check repository_path)"
if [ -z "$url" ]; then
  mkdir -- "$staging"
  g archive --format=tar -o "$staging.tar" "$tree"
  tar -x --no-same-owner -f "$staging.tar" -C "$staging"
  rm -f -- "$staging.tar"
else
  src=$staging.src
  git clone -q --shared --no-checkout -- "$repo" "$src"
  w() { GIT_TERMINAL_PROMPT=0 git -c core.hooksPath=/dev/null -c advice.detachedHead=false -C "$src" "$@"; }
  # Relative submodule URLs are relative to the repository, not to the mirror.
  w remote set-url origin "$url"
  w checkout -q "$commit"
  w submodule update -q --init --recursive
  mkdir -- "$staging"
  rsync -a --exclude=.git -- "$src/\${sub:+$sub/}" "$staging/"
  rm -rf -- "$src"
fi
for p; do
  if [ -d "$staging/$p" ] && [ ! -L "$staging/$p" ] && [ ! -e "$shared/$p" ] && [ ! -L "$shared/$p" ]; then
    mkdir -p -- "$(dirname -- "$shared/$p")"
    cp -a -- "$staging/$p" "$shared/$p"
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

export function mirrorFetch(l: Layout, git: GitSource, commit: string): Cmd {
  return shProgram(MIRROR, [gitMirrorDir(l), git.repository, git.shown, commit, l.tmp], {
    label: "fetch into the mirror",
  });
}

/**
 * Builds the release from the commit: extract into staging, then rsync into the release with
 * unchanged files hard-linked to earlier releases. Content decides (--checksum, mtimes not kept):
 * an archive's files all carry the commit's time, so mtimes say nothing.
 */
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
  const url = git.submodules ? git.repository : "";
  return [
    shProgram(EXTRACT, [gitMirrorDir(l), commit, git.path ?? "", staging, l.shared, url, ...input.seedDirs], {
      label: git.submodules ? "check out with submodules into staging" : "git archive into staging",
    }),
    cmd([
      "rsync",
      "-rlpgoD",
      "--checksum",
      ...input.linkDest.map((d) => `--link-dest=${d}`),
      ...input.exclude.map((x) => `--exclude=${x}`),
      "--",
      `${staging}/`,
      `${l.release(releaseId)}/`,
    ]),
    cmd(["rm", "-rf", "--", staging]),
  ];
}

export function describeCommit(l: Layout, commit: string): Cmd {
  return shProgram(DESCRIBE, [gitMirrorDir(l), commit], { label: "read commit details" });
}

/** doctor: the mirror's state and whether the host's git reaches the repository (reads only). */
const CHECK = `repo=$1 url=$2 shown=$3
export GIT_TERMINAL_PROMPT=0
if [ -L "$repo" ]; then echo "mirror symlink"
elif [ ! -e "$repo" ]; then echo "mirror missing"
elif [ "$(git -c core.hooksPath=/dev/null --git-dir="$repo" rev-parse --is-bare-repository 2>/dev/null)" != true ]; then echo "mirror notbare"
else
  o=$(git -c core.hooksPath=/dev/null --git-dir="$repo" config --get cutover.origin 2>/dev/null) || o=
  if [ "$o" = "$shown" ]; then echo "mirror ok"; else printf 'mirror other %s\\n' "$o"; fi
fi
if out=$(timeout 60 git ls-remote -- "$url" HEAD 2>&1 >/dev/null); then echo "reach ok"
else printf 'reach fail %s\\n' "$(printf '%s\\n' "$out" | grep -v '^$' | tail -n 3 | tr '\\n' ' ')"; fi
`;

export function gitCheckProbe(l: Layout, git: GitSource): Cmd {
  return shProgram(CHECK, [gitMirrorDir(l), git.repository, git.shown], { label: "check the git mirror" });
}
