import { type Cmd, shProgram } from "../shell/cmd.js";

/**
 * Read-only look at a host for `cutover doctor`: tools, clock, web server configs that serve the
 * deploy path, cron entries and running processes that point into releases/. Sections are lines
 * `@@name value`; web server configs that name the deploy path are `@@config FILE` followed by their lines that
 * set the document root or the script path, and nginx `set` lines (nginx and Apache).
 */
const DOCTOR = `root=$1 nginx=$2 apache=$3; shift 3
say() { printf '%s\\n' "$*"; }
say "@@clock $(date +%s%3N)"
command -v rsync >/dev/null 2>&1 && say "@@rsync yes" || say "@@rsync no"
command -v php >/dev/null 2>&1 && say "@@php yes" || say "@@php no"
grep -rlF -e "$root/current" -e "$nginx" -e "$apache" "$@" 2>/dev/null | while IFS= read -r f; do
  say "@@config $f"
  grep -n -E 'SCRIPT_FILENAME|DOCUMENT_ROOT|^[[:space:]]*(root|set)[[:space:]]|^[[:space:]]*DocumentRoot[[:space:]]' "$f" | sed 's/^/@@line /'
done
crontab -l 2>/dev/null | grep -F -e "$root/releases/" | sed 's/^/@@cron /'
for p in /proc/[0-9]*; do
  [ "$p" = "/proc/$$" ] && continue
  c=$(tr '\\0' ' ' < "$p/cmdline" 2>/dev/null) || continue
  case "$c" in *"$root/releases/"*) say "@@process \${p#/proc/} $c";; esac
done
exit 0
`;

/** `escaped`: how DEPLOY_PATH/current reads inside quotes in an nginx and an Apache config. */
export function doctorProbe(
  deployPath: string,
  escaped: { readonly nginx: string; readonly apache: string },
  configPaths: readonly string[],
): Cmd {
  return shProgram(DOCTOR, [deployPath, escaped.nginx, escaped.apache, ...configPaths]);
}

export interface DoctorFacts {
  readonly clockMs: number;
  readonly rsync: boolean;
  readonly php: boolean;
  /** Web server config files that name the deploy path, with their docroot and script path lines. */
  readonly webConfigs: ReadonlyMap<string, readonly string[]>;
  readonly cron: readonly string[];
  readonly processes: readonly string[];
}

export function parseDoctor(output: string): DoctorFacts {
  const webConfigs = new Map<string, string[]>();
  let file: string | undefined;
  const facts = { clockMs: 0, rsync: false, php: false, cron: [] as string[], processes: [] as string[] };
  for (const line of output.split("\n")) {
    const space = line.indexOf(" ");
    const key = line.slice(0, space);
    const rest = line.slice(space + 1);
    if (key === "@@clock") facts.clockMs = Number(rest);
    else if (key === "@@rsync") facts.rsync = rest === "yes";
    else if (key === "@@php") facts.php = rest === "yes";
    else if (key === "@@config") {
      file = rest;
      webConfigs.set(file, []);
    } else if (key === "@@line" && file) webConfigs.get(file)!.push(rest);
    else if (key === "@@cron") facts.cron.push(rest);
    else if (key === "@@process") facts.processes.push(rest);
  }
  return { ...facts, webConfigs };
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
