import { type Cmd, shProgram } from "../shell/cmd.js";

/**
 * Read-only look at a host for `cutover doctor`: tools, clock, cron entries and running processes
 * that point into releases/, pruned releases left in the trash, as lines `@@name value`. Web
 * server configs are read separately (web/config-probe.ts).
 */
const DOCTOR = `root=$1; shift
say() { printf '%s\\n' "$*"; }
say "@@clock $(date +%s%3N)"
command -v rsync >/dev/null 2>&1 && say "@@rsync yes" || say "@@rsync no"
command -v php >/dev/null 2>&1 && say "@@php yes" || say "@@php no"
crontab -l 2>/dev/null | grep -F -e "$root/releases/" | sed 's/^/@@cron /'
# This shell's own pid (a subshell's $$ is its parent's): /proc/self, opened by the shell itself.
read -r self _ < /proc/self/stat
for p in /proc/[0-9]*; do
  [ "$p" = "/proc/$self" ] && continue
  c=$(tr '\\0' ' ' < "$p/cmdline" 2>/dev/null) || continue
  case "$c" in *"$root/releases/"*) say "@@process \${p#/proc/} $c";; esac
done
# What the removal of pruned releases could not remove: how many entries, and its first error.
t=$root/.cutover/trash
if [ -d "$t" ] && [ ! -L "$t" ] && [ -f "$t/.failed" ] && [ ! -L "$t/.failed" ]; then
  IFS= read -r f < "$t/.failed" || true
  say "@@trash $(ls -A -I .failed -- "$t" 2>/dev/null | wc -l) $f"
fi
# In place, a shared path the live directory already had is never linked: the app keeps using it.
for p; do
  d=$root/current/$p
  if [ ! -L "$d" ] && [ -e "$d" ]; then say "@@unshared $p"; fi
done
exit 0
`;

/** `inPlaceShared`: with strategy: in-place, the shared paths, to find which of them current/ holds for real. */
export function doctorProbe(deployPath: string, inPlaceShared: readonly string[] = []): Cmd {
  return shProgram(DOCTOR, [deployPath, ...inPlaceShared.filter((p) => !p.includes("\n"))]);
}

export interface DoctorFacts {
  readonly clockMs: number;
  readonly rsync: boolean;
  readonly php: boolean;
  readonly cron: readonly string[];
  readonly processes: readonly string[];
  /** In place: shared paths that are real files or directories in current/, not links into shared/. */
  readonly unshared: readonly string[];
  /** Entries left in .cutover/trash by a removal that failed, and its first error. */
  readonly trash?: { readonly left: number; readonly error: string };
}

export function parseDoctor(output: string): DoctorFacts {
  const facts = {
    clockMs: 0,
    rsync: false,
    php: false,
    cron: [] as string[],
    processes: [] as string[],
    unshared: [] as string[],
  };
  let trash: DoctorFacts["trash"];
  for (const line of output.split("\n")) {
    const space = line.indexOf(" ");
    const key = line.slice(0, space);
    const rest = line.slice(space + 1);
    if (key === "@@clock") facts.clockMs = Number(rest);
    else if (key === "@@rsync") facts.rsync = rest === "yes";
    else if (key === "@@php") facts.php = rest === "yes";
    else if (key === "@@cron") facts.cron.push(rest);
    else if (key === "@@process") facts.processes.push(rest);
    else if (key === "@@unshared") facts.unshared.push(rest);
    else if (key === "@@trash") {
      const left = /^(\d+) (.*)$/.exec(rest);
      if (left) trash = { left: Number(left[1]), error: left[2]! };
    }
  }
  return trash ? { ...facts, trash } : facts;
}

const FIRST_LINES = `"$@" 2>/dev/null | head -n 20
exit 0
`;

/**
 * Files changed in the live release after it was sealed (newer than its manifest), outside its
 * writable_dirs: data the application writes there is gone with the next deploy.
 */
export function writtenSinceDeploy(releaseDir: string, manifest: string, writable: readonly string[]): Cmd {
  const prune = writable.flatMap((w, i) => [...(i > 0 ? ["-o"] : []), "-path", `${releaseDir}/${w}`]);
  return shProgram(FIRST_LINES, [
    "find",
    releaseDir,
    ...(prune.length > 0 ? ["(", ...prune, ")", "-prune", "-o"] : []),
    "-type",
    "f",
    "-newer",
    manifest,
    "-print",
  ]);
}
