import path from "node:path/posix";
import type { ResolvedHost, ResolvedStage } from "../config/resolve.js";
import { type Cmd, cmd, shProgram } from "../shell/cmd.js";
import type { HostFacts } from "./facts.js";
import type { Layout } from "./layout.js";
import { writeMeta } from "./records.js";
import { isAdoptableName, isIdShaped, timestampId } from "./release-id.js";
import type { ReleaseMeta } from "./release-meta.js";

/**
 * What `cutover adopt` reads besides the facts: each entry of releases/ with its mtime and REVISION,
 * and the marks other deploy tools leave (Capistrano's revisions.log, Deployer's .dep/, Envoyer's
 * storage/ and .env in the deploy path). NUL-separated, like the facts.
 */
const ADOPT_PROBE = `
root=$1; shift
put() { for f; do printf '%s\\000' "$f"; done; }
put cutover-adopt 1
[ -f "$root/revisions.log" ] && put mark capistrano
[ -d "$root/.dep" ] && put mark deployer
for p; do if [ -e "$root/$p" ] && [ ! -L "$root/$p" ]; then put top "$p"; fi; done
if [ -d "$root/releases" ] && [ ! -L "$root/releases" ]; then
  for d in "$root"/releases/*; do
    if [ -d "$d" ] && [ ! -L "$d" ]; then
      put entry "\${d##*/}" "$(stat -c %Y -- "$d")" "$([ ! -f "$d/REVISION" ] || head -c 200 -- "$d/REVISION" 2>/dev/null | tr -d '\\000\\n\\r')"
    fi
  done
fi
if [ -d "$root/current" ] && [ ! -L "$root/current" ]; then put current-dir "$(stat -c %Y -- "$root/current")"; fi
# The old current directory a --migrate killed after its exchange left where only its link goes.
old=$root/.cutover/tmp/migrate
if [ -d "$old" ] && [ ! -L "$old" ] && [ ! -e "$root/current.before-cutover" ] && [ ! -L "$root/current.before-cutover" ]; then put migrate-left 1; fi
`;

export function adoptProbe(root: string, sharedPaths: readonly string[]): Cmd {
  return shProgram(ADOPT_PROBE, [root, ...sharedPaths]);
}

export interface AdoptFacts {
  readonly marks: readonly ("capistrano" | "deployer")[];
  /** Shared paths that exist directly in the deploy path (Envoyer keeps storage/ and .env there). */
  readonly topLevel: readonly string[];
  readonly entries: readonly { name: string; mtime: number; revision: string }[];
  /** `current` is a real directory (mtime): a deploy by hand. */
  readonly currentDir: number | undefined;
  /** A killed --migrate left the old current directory in .cutover/tmp/migrate. */
  readonly migrateLeft: boolean;
}

export function parseAdoptFacts(output: string): AdoptFacts {
  const f = output.split("\0");
  if (f[0] !== "cutover-adopt" || f[1] !== "1") throw new Error("unexpected adopt probe output");
  const marks: AdoptFacts["marks"][number][] = [];
  const topLevel: string[] = [];
  const entries: { name: string; mtime: number; revision: string }[] = [];
  let currentDir: number | undefined;
  let migrateLeft = false;
  for (let i = 2; i < f.length - 1; ) {
    const key = f[i]!;
    if (key === "mark") {
      if (f[i + 1] === "capistrano" || f[i + 1] === "deployer") marks.push(f[i + 1] as "capistrano");
      i += 2;
    } else if (key === "top") {
      topLevel.push(f[i + 1]!);
      i += 2;
    } else if (key === "entry") {
      entries.push({ name: f[i + 1]!, mtime: Number(f[i + 2]), revision: f[i + 3]! });
      i += 4;
    } else if (key === "migrate-left") {
      migrateLeft = true;
      i += 2;
    } else if (key === "current-dir") {
      currentDir = Number(f[i + 1]);
      i += 2;
    } else throw new Error(`unexpected adopt probe field ${JSON.stringify(key.slice(0, 40))}`);
  }
  return { marks, topLevel, entries, currentDir, migrateLeft };
}

export interface AdoptPlan {
  readonly host: ResolvedHost;
  readonly tool: string;
  /** Metadata recorded for releases cutover did not make; oldest first. */
  readonly adopted: readonly ReleaseMeta[];
  /** Names in releases/ left alone (not a safe name), one note each. */
  readonly skipped: readonly string[];
  /** Shared paths kept where they are, linked from shared/ (Envoyer's storage/ and .env). */
  readonly linked: readonly string[];
  /** The old current directory a killed --migrate left in .cutover/tmp goes where a whole run puts it. */
  readonly movesLeftover: boolean;
  readonly cmds: readonly Cmd[];
}

/** Capistrano and Envoyer name releases by their time: YYYYmmddHHMMSS. */
function timeOfName(name: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(name);
  if (!m) return undefined;
  const t = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(t.getTime()) ? undefined : t;
}

function toolOf(facts: AdoptFacts): string {
  if (facts.marks.includes("deployer")) return "deployer";
  if (facts.marks.includes("capistrano")) return "capistrano";
  if (facts.topLevel.length > 0) return "envoyer";
  return facts.entries.length > 0 ? "unknown" : "none";
}

/**
 * Records the releases another tool left as cutover's, with what can be known (time from the name,
 * or Deployer's numbering and the directory's mtime; the REVISION file), so they are rollback
 * targets and hard-link sources, and are pruned only by keep_releases. Moves nothing: `current` is
 * not touched, and shared data kept in the deploy path is linked from shared/, not moved.
 */
export function planAdopt(
  stage: ResolvedStage,
  host: ResolvedHost,
  l: Layout,
  facts: HostFacts,
  adopt: AdoptFacts,
  who: string,
): AdoptPlan {
  const tool = toolOf(adopt);
  const live = facts.current.kind === "link" ? facts.current.release : undefined;
  const fresh = adopt.entries.filter((e) => !isIdShaped(e.name) && !facts.metas.has(e.name));
  const skipped = fresh.filter((e) => !isAdoptableName(e.name)).map((e) => e.name);
  const adoptable = fresh.filter((e) => isAdoptableName(e.name));
  // Judged on what is adopted: a skipped stray name must not turn Deployer's numbers into text order.
  const numbered = adoptable.every((e) => /^\d{1,9}$/.test(e.name));
  const candidates = adoptable.sort((a, b) =>
    numbered ? Number(a.name) - Number(b.name) : a.name < b.name ? -1 : 1,
  );
  // Times must follow the tool's own order (Deployer numbers releases; a later write can touch an
  // older directory's mtime), so each is at least a second after the one before.
  let last = 0;
  // A release after the live one in the tool's order never went live as far as anyone can tell (a
  // deploy that failed before its switch leaves one): recorded failed, never a rollback target.
  const liveAt = candidates.findIndex((e) => e.name === live);
  const adopted = candidates.map((e, i): ReleaseMeta => {
    const named = timeOfName(e.name)?.getTime();
    const at = Math.max(named ?? e.mtime * 1000, last + 1000);
    last = at;
    return {
      id: e.name,
      state: e.name === live ? "live" : liveAt >= 0 && i > liveAt ? "failed" : "superseded",
      ...(liveAt >= 0 && i > liveAt
        ? { reason: `newer than ${live}, which current linked to when adopted` }
        : {}),
      stage: stage.name,
      who,
      revision: e.revision ? { commit: e.revision, dirty: false } : null,
      started_at: new Date(at).toISOString(),
      adopted: { tool },
    };
  });
  const shared = [...stage.sharedDirs, ...stage.sharedFiles];
  const linked = shared.filter((p) => adopt.topLevel.includes(p) && facts.shared.get(p) === "missing");
  const cmds: Cmd[] = [
    ...(adopted.length > 0 ? [cmd(["mkdir", "-p", "--", path.dirname(l.releaseMeta("x"))])] : []),
    ...adopted.flatMap((m) => writeMeta(l, m)),
    ...linked.flatMap((p) => [
      cmd(["mkdir", "-p", "--", path.dirname(path.join(l.shared, p))]),
      cmd(["ln", "-s", "--", `${"../".repeat(p.split("/").length)}${p}`, path.join(l.shared, p)]),
    ]),
    ...(adopt.migrateLeft
      ? [
          cmd([
            "mv",
            "-n",
            "-T",
            "--",
            path.join(l.tmp, "migrate"),
            path.join(l.root, "current.before-cutover"),
          ]),
        ]
      : []),
  ];
  return { host, tool, adopted, skipped, linked, movesLeftover: adopt.migrateLeft, cmds };
}

/**
 * A `current` that is a real directory becomes a release without a moment in which `current` is
 * missing: the directory is copied with hard links (instant, no extra disk) to releases/<id>, and
 * a symlink to it is exchanged with `current` by renameat2(RENAME_EXCHANGE) in one step (perl's
 * syscall(); perl-base is part of every Debian). The old directory is kept as
 * current.before-cutover for the admin to remove. Files the app writes during the copy stay there.
 * The release's metadata ("preparing", adopted by hand) is written before the exchange: a run killed
 * after it leaves `current` on a release cutover knows (the next deploy or cleanup marks it live), and
 * one killed before it a copy that cleanup removes as incomplete.
 */
const MIGRATE = `set -e
root=$1 id=$2 meta=$3 json=$4
[ -d "$root/current" ] && [ ! -L "$root/current" ] || { echo "$root/current is not a directory" >&2; exit 3; }
[ ! -e "$root/current.before-cutover" ] || { echo "$root/current.before-cutover exists; move it away first" >&2; exit 3; }
case $(uname -m) in
  x86_64) nr=316 ;; aarch64) nr=276 ;; i?86) nr=353 ;; armv7l|armv6l) nr=382 ;;
  *) echo "no renameat2 syscall number known for $(uname -m)" >&2; exit 3 ;;
esac
command -v perl >/dev/null || { echo "perl is needed for the atomic exchange" >&2; exit 3; }
mkdir -p -- "$root/releases" "$root/.cutover/tmp" "\${meta%/*}"
rel=$root/releases/$id link=$root/.cutover/tmp/migrate
[ ! -e "$rel" ] || { echo "$rel exists (if a killed adopt --migrate left it, cutover cleanup removes it)" >&2; exit 3; }
# mkdir proves the release directory is this run's: a partial copy (a file it may not link: another
# user's under protected_hardlinks, another mount) is removed, so it does not block the next run.
mkdir -- "$rel"
cp -al -- "$root/current/." "$rel" || {
  rm -rf -- "$rel"
  echo "copying current with hard links failed (a file of another user, or of another file system, in it?)" >&2; exit 3
}
# Not in set -e's reach (an && list): a failed write (a full disk) must stop here, before the exchange.
{ printf '%s\n' "$json" > "$meta.tmp" && mv -f -- "$meta.tmp" "$meta"; } || {
  rm -f -- "$meta.tmp"; rm -rf -- "$rel"
  echo "cannot write $meta (disk full?); current is unchanged" >&2; exit 3
}
rm -f -- "$link"
ln -s -- "releases/$id" "$link"
if ! perl -e 'syscall($ARGV[0], -100, $ARGV[1], -100, $ARGV[2], 2) == 0 or die "renameat2: $!\\n"' "$nr" "$link" "$root/current"; then
  rm -f -- "$link" "$meta"; rm -rf -- "$rel"; exit 3
fi
mv -- "$link" "$root/current.before-cutover"
`;

/** `preparing` is the metadata the release has until the exchange is done; `live` follows it. */
export function migrateCurrent(l: Layout, preparing: ReleaseMeta): Cmd {
  return shProgram(MIGRATE, [l.root, preparing.id, l.releaseMeta(preparing.id), JSON.stringify(preparing)]);
}

/** The id the migrated `current` gets: its directory's time, as a cutover id. */
export function migratedId(mtimeSeconds: number): string {
  return timestampId(new Date(mtimeSeconds * 1000));
}
