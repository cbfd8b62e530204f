import { type Cmd, shProgram } from "../shell/cmd.js";
import { foreignLock, type LockOwner, type LockStatus, parseLockOwner } from "./lock.js";
import type { ReleaseMeta } from "./release-meta.js";
import { ownMetas, resolvedRelease, sortReleaseEntries } from "./release-ownership.js";

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
# A lock is a directory: anything else there (a file, a dangling link) no run of cutover made.
foreign_lock() { [ ! -d "$meta/lock" ] && kind "$meta/lock" && [ "$k" != missing ] && put lock foreign "$k"; }
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
elif [ -d "$meta/lock" ]; then held; else foreign_lock || :; fi
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

export type CurrentLink =
  | {
      readonly kind: "link";
      /** The link text, exactly as read: what a switch back restores. */
      readonly target: string;
      /** What it resolves to on the host (empty: dangling). */
      readonly resolved: string;
      /** The release it resolves to, when that is a direct child of releases/ with an id name. */
      readonly release: string | undefined;
    }
  | { readonly kind: "dir" | "missing" | "other" | "file" };

export type PathKind = "dir" | "file" | "link" | "other" | "missing";
export type SharedKind = PathKind;

/** The directories cutover keeps under the deploy path. */
export const INNER_DIRS = ["releases", "shared", ".cutover", ".cutover/releases", ".cutover/tmp"] as const;
export type InnerDir = (typeof INNER_DIRS)[number];

export interface HostFacts {
  readonly root: "ok" | "missing" | "notdir";
  /** What taking the lock created (the deploy path, its .cutover), undone if the run stops before preparing. */
  readonly created: readonly ("root" | "meta")[];
  readonly writable: boolean;
  /** $HOME of the login on the host (a deploy path may not be it). */
  readonly home: string | undefined;
  /** rsync is in the login's PATH (every upload and extract needs it there). */
  readonly rsync: boolean;
  readonly inner: ReadonlyMap<InnerDir, PathKind>;
  readonly current: CurrentLink;
  /** `current` is a real directory with entries in it. */
  readonly currentHasEntries: boolean;
  /** Real directories directly in releases/ with an id-shaped name: the only ones cutover may own. */
  readonly releaseDirs: readonly string[];
  /** Everything else in releases/ (other names, symlinks, files): never touched, only reported. */
  readonly foreign: readonly string[];
  /** Regular files in releases/ named as the listing's clock probe: a killed run's, removed (CLOCK_PROBE). */
  readonly clockProbes: readonly string[];
  /** Metadata whose file name matches its id and that parses: the rest is in `problems`. */
  readonly metas: ReadonlyMap<string, ReleaseMeta>;
  readonly tmp: readonly string[];
  readonly shared: ReadonlyMap<string, SharedKind>;
  readonly availKb: number | undefined;
  readonly lock: LockStatus;
  /** Components: each other part's deploy path on this host, it and this one's resolved (realpath). */
  readonly apart: readonly { path: string; real: string; root: string }[];
  /** What was found that cutover does not understand and so leaves alone: one line each. */
  readonly problems: readonly string[];
}

export function factsProbe(deployPath: string, sharedPaths: readonly string[], lockOwner?: LockOwner): Cmd {
  const lock = lockOwner ? ["lock", JSON.stringify(lockOwner)] : ["read", ""];
  return shProgram(PROBE, [deployPath, ...lock, ...sharedPaths]);
}

/** Field counts of each record after its key. */
const ARITY: Record<string, number> = {
  "cutover-facts": 1,
  created: 1,
  home: 1,
  rsync: 1,
  root: 1,
  writable: 1,
  inner: 2,
  "lock-sum": 1,
  "releases-real": 1,
  "current-entries": 1,
  release: 2,
  meta: 2,
  tmp: 1,
  shared: 2,
  avail: 1,
  apart: 3,
};

function arity(key: string, next: string | undefined): number {
  if (key === "lock") return next === "acquired" ? 1 : 2;
  if (key === "current") return next === "link" ? 3 : 1;
  return ARITY[key] ?? -1;
}

const KINDS = new Set(["dir", "file", "link", "other", "missing"]);
const asKind = (k: string | undefined): PathKind => (KINDS.has(k ?? "") ? (k as PathKind) : "other");

export function parseFacts(deployPath: string, output: string, lockRequested: boolean): HostFacts {
  // A login shell's rc files may print a banner before the probe's first field: skip it.
  const start = output.indexOf("cutover-facts\u00002\u0000");
  const fields = output.slice(Math.max(0, start)).split("\0");
  if (fields[0] !== "cutover-facts" || fields[1] !== "2")
    throw new Error(`unexpected probe output: ${JSON.stringify(output.slice(0, 200))}`);
  let root: HostFacts["root"] = "missing";
  let writable = false;
  let home: string | undefined;
  let rsync = true;
  const created: ("root" | "meta")[] = [];
  const inner = new Map<InnerDir, PathKind>();
  let current: CurrentLink = { kind: "missing" };
  let currentHasEntries = false;
  let releasesReal = "";
  const entries: { kind: PathKind; name: string }[] = [];
  const metaFiles: { file: string; text: string }[] = [];
  const tmp: string[] = [];
  const shared = new Map<string, SharedKind>();
  let availKb: number | undefined;
  const apart: { path: string; real: string; root: string }[] = [];
  let lockSum = "";
  let lock: LockStatus = lockRequested
    ? { kind: "error", message: "the probe gave no lock answer" }
    : { kind: "free" };

  let i = 2;
  while (i < fields.length) {
    const key = fields[i]!;
    if (key === "" && i === fields.length - 1) break;
    const n = arity(key, fields[i + 1]);
    if (n < 0 || i + n >= fields.length)
      throw new Error(`unexpected probe output at field ${i}: ${JSON.stringify(key.slice(0, 80))}`);
    const v = fields.slice(i + 1, i + 1 + n);
    i += 1 + n;
    switch (key) {
      case "root":
        root = v[0] === "ok" || v[0] === "notdir" ? v[0] : "missing";
        break;
      case "created":
        if (v[0] === "root" || v[0] === "meta") created.push(v[0]);
        break;
      case "home":
        home = v[0] || undefined;
        break;
      case "rsync":
        rsync = v[0] !== "no";
        break;
      case "writable":
        writable = v[0] === "yes";
        break;
      case "inner":
        if ((INNER_DIRS as readonly string[]).includes(v[0]!)) inner.set(v[0] as InnerDir, asKind(v[1]));
        break;
      case "current":
        current =
          v[0] === "link"
            ? { kind: "link", target: v[1]!, resolved: v[2]!, release: undefined }
            : { kind: v[0] === "dir" || v[0] === "file" || v[0] === "missing" ? v[0] : "other" };
        break;
      case "releases-real":
        releasesReal = v[0]!;
        break;
      case "current-entries":
        currentHasEntries = v[0] === "yes";
        break;
      case "release":
        entries.push({ kind: asKind(v[0]), name: v[1]! });
        break;
      case "meta":
        metaFiles.push({ file: v[0]!, text: v[1]! });
        break;
      case "tmp":
        tmp.push(v[0]!);
        break;
      case "shared":
        shared.set(v[1]!, asKind(v[0]));
        break;
      case "apart":
        apart.push({ path: v[0]!, real: v[1]!, root: v[2]! });
        break;
      case "avail":
        availKb = v[0] && /^\d+$/.test(v[0]) ? Number(v[0]) : undefined;
        break;
      case "lock":
        if (v[0] === "acquired") lock = { kind: "acquired" };
        else if (v[0] === "held") lock = { kind: "held", owner: parseLockOwner(v[1]!), sum: "" };
        else if (v[0] === "foreign") lock = foreignLock(deployPath, asKind(v[1]));
        else lock = { kind: "error", message: v[1]! };
        break;
      case "lock-sum":
        lockSum = v[0]!;
        break;
    }
  }
  const { metas, problems } = ownMetas(metaFiles);
  const { releaseDirs, clockProbes, foreign } = sortReleaseEntries(entries, metas);
  if (foreign.length > 0)
    problems.push(
      `releases/ holds entries that are not cutover releases, left alone: ${foreign.map((n) => JSON.stringify(n)).join(", ")}`,
    );
  if (current.kind === "link")
    current = { ...current, release: resolvedRelease(current.resolved, releasesReal) };
  if (lock.kind === "held") lock = { ...lock, sum: lockSum };
  if (root === "ok") {
    for (const [dir, kind] of inner) {
      if (dir !== "shared" && kind !== "dir" && kind !== "missing")
        problems.push(`${deployPath}/${dir} is a ${kind}, not a directory`);
    }
  }
  return {
    root,
    created,
    writable,
    home,
    rsync,
    inner,
    current,
    currentHasEntries,
    releaseDirs,
    foreign,
    clockProbes,
    metas,
    tmp,
    shared,
    availKb,
    lock,
    apart,
    problems,
  };
}
