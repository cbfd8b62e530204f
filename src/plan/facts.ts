import { type Cmd, shProgram } from "../shell/cmd.js";
import { releaseOfLink } from "./layout.js";
import { type LockOwner, parseLockOwner } from "./lock.js";
import { parseReleaseMeta, type ReleaseMeta } from "./release-meta.js";

/**
 * One read of everything the planner needs from a host, optionally taking the lock in the same
 * exchange (mkdir is atomic; the owner file follows). Data arrives only as positional parameters.
 */
const PROBE = `
root=$1 mode=$2 owner=$3; shift 3
meta=$root/.cutover
say() { printf '%s\\n' "$*"; }
say "cutover-facts 1"
if [ "$mode" = lock ]; then
  [ -e "$root" ] || say "created root"
  [ -e "$meta" ] || say "created meta"
  if ! err=$(mkdir -p -- "$meta" 2>&1); then
    say "lock error $err"
  elif mkdir -- "$meta/lock" 2>/dev/null; then
    if printf '%s\\n' "$owner" > "$meta/lock/owner.json" 2>/dev/null; then say "lock acquired"
    else rm -rf -- "$meta/lock"; say "lock error cannot write $meta/lock/owner.json (disk full?)"; fi
  else
    say "lock held $(cat -- "$meta/lock/owner.json" 2>/dev/null)"
  fi
elif [ -d "$meta/lock" ]; then
  say "lock held $(cat -- "$meta/lock/owner.json" 2>/dev/null)"
fi
if [ -d "$root" ]; then say "root ok"; elif [ -e "$root" ]; then say "root notdir"; else say "root missing"; exit 0; fi
[ -w "$root" ] && say "writable yes" || say "writable no"
if [ -L "$root/current" ]; then say "current link $(readlink -- "$root/current")"
elif [ -d "$root/current" ]; then say "current dir"
elif [ -e "$root/current" ]; then say "current other"
else say "current missing"; fi
for d in "$root"/releases/* "$root"/releases/.[!.]*; do
  if [ -e "$d" ] || [ -L "$d" ]; then say "release \${d##*/}"; fi
done
for f in "$meta"/releases/*.json; do
  if [ -f "$f" ]; then printf 'meta '; tr -d '\\n' < "$f"; echo; fi
done
for t in "$meta"/tmp/* "$meta"/tmp/.[!.]*; do
  if [ -e "$t" ] || [ -L "$t" ]; then say "tmp \${t##*/}"; fi
done
for p in "$@"; do
  s=$root/shared/$p
  if [ -L "$s" ]; then say "shared link $p"; elif [ -d "$s" ]; then say "shared dir $p"
  elif [ -f "$s" ]; then say "shared file $p"; elif [ -e "$s" ]; then say "shared other $p"
  else say "shared missing $p"; fi
done
say "avail $(df -Pk -- "$root" 2>/dev/null | awk 'NR==2 {print $4}')"
`;

export type LockStatus =
  | { readonly kind: "free" }
  | { readonly kind: "acquired" }
  | { readonly kind: "held"; readonly owner: LockOwner | undefined }
  | { readonly kind: "error"; readonly message: string };

export type CurrentLink =
  | { readonly kind: "link"; readonly target: string; readonly release: string | undefined }
  | { readonly kind: "dir" | "missing" | "other" };

export type SharedKind = "dir" | "file" | "link" | "other" | "missing";

export interface HostFacts {
  readonly root: "ok" | "missing" | "notdir";
  /** What taking the lock created (the deploy path, its .cutover), undone if the run stops before preparing. */
  readonly created: readonly ("root" | "meta")[];
  readonly writable: boolean;
  readonly current: CurrentLink;
  readonly releaseDirs: readonly string[];
  readonly metas: ReadonlyMap<string, ReleaseMeta>;
  readonly tmp: readonly string[];
  readonly shared: ReadonlyMap<string, SharedKind>;
  readonly availKb: number | undefined;
  readonly lock: LockStatus;
}

export function factsProbe(deployPath: string, sharedPaths: readonly string[], lockOwner?: LockOwner): Cmd {
  return shProgram(PROBE, [
    deployPath,
    lockOwner ? "lock" : "read",
    lockOwner ? JSON.stringify(lockOwner) : "",
    ...sharedPaths,
  ]);
}

export function parseFacts(deployPath: string, output: string, lockRequested: boolean): HostFacts {
  const lines = output.split("\n");
  if (lines[0] !== "cutover-facts 1") throw new Error(`unexpected probe output: ${output.slice(0, 200)}`);
  let root: HostFacts["root"] = "missing";
  let writable = false;
  const created: ("root" | "meta")[] = [];
  let current: CurrentLink = { kind: "missing" };
  const releaseDirs: string[] = [];
  const metas = new Map<string, ReleaseMeta>();
  const tmp: string[] = [];
  const shared = new Map<string, SharedKind>();
  let availKb: number | undefined;
  let lock: LockStatus = lockRequested
    ? { kind: "error", message: "the probe gave no lock answer" }
    : { kind: "free" };

  for (const line of lines.slice(1)) {
    const space = line.indexOf(" ");
    const key = space < 0 ? line : line.slice(0, space);
    const rest = space < 0 ? "" : line.slice(space + 1);
    switch (key) {
      case "root":
        root = rest as HostFacts["root"];
        break;
      case "created":
        created.push(rest as "root" | "meta");
        break;
      case "writable":
        writable = rest === "yes";
        break;
      case "current":
        if (rest.startsWith("link ")) {
          const target = rest.slice(5);
          current = { kind: "link", target, release: releaseOfLink(deployPath, target) };
        } else current = { kind: rest as "dir" | "missing" | "other" };
        break;
      case "release":
        releaseDirs.push(rest);
        break;
      case "meta": {
        const meta = parseReleaseMeta(rest);
        if (meta) metas.set(meta.id, meta);
        break;
      }
      case "tmp":
        tmp.push(rest);
        break;
      case "shared": {
        const [kind, ...p] = rest.split(" ");
        shared.set(p.join(" "), kind as SharedKind);
        break;
      }
      case "avail":
        availKb = rest ? Number(rest) : undefined;
        break;
      case "lock":
        if (rest === "acquired") lock = { kind: "acquired" };
        else if (rest.startsWith("held")) lock = { kind: "held", owner: parseLockOwner(rest.slice(5)) };
        else lock = { kind: "error", message: rest.replace(/^error /, "") };
        break;
    }
  }
  return { root, created, writable, current, releaseDirs, metas, tmp, shared, availKb, lock };
}
