import { type Cmd, shProgram } from "../../shell/cmd.js";
import { OTHER_PHP_EXTENSIONS } from "./php-source-names.js";

/** What must never be served, whatever the app: secrets, the repository, the deploy config. */
const NEVER_SERVED = ["/.env", "/cutover.yaml", "/.git/HEAD"] as const;

/** PHP source files (not named .php) asked for per web root: a sample shows whether they are served. */
const MAX_SOURCES = 2;

/** Where a web root usually is inside a release. */
const WEBROOTS = ["", "public", "web", "htdocs", "www"];

/**
 * The sha256 of each file under a release's likely web roots that a web server must not serve:
 * dotfiles, cutover.yaml, .git/HEAD, Composer's auth.json (its credentials), at the release root
 * Composer's vendor/composer/LICENSE (vendor/ is public there), and a few PHP source files under a
 * name php-fpm does not run (.phtml, .PHP, .inc...; vendor/ and dot-directories not searched), as
 * `@@hash HEX /url-path`. A response with the same body is the file itself, not an app's fallback
 * page that happens to answer 200.
 */
const HASHES = `rel=$1; shift
hash_of() {
  [ -f "$1" ] && [ -r "$1" ] || return 0
  case $1 in *'
'*) return 0 ;; esac
  printf '@@hash %s %s\\n' "$(sha256sum < "$1" | cut -d' ' -f1)" "\${1#"$dir"}"
}
for sub; do
  dir=\${rel%/}\${sub:+/$sub}
  [ -d "$dir" ] || continue
  for f in "$dir"/.[!.]* "$dir/cutover.yaml" "$dir/cutover.yml" "$dir/.git/HEAD" "$dir/auth.json"; do
    hash_of "$f"
  done
  [ -n "$sub" ] || hash_of "$dir/vendor/composer/LICENSE"
  find "$dir" -maxdepth 4 \\( -name vendor -o -name node_modules -o -name '.?*' \\) -prune -o -type f \\
    \\( ${OTHER_PHP_EXTENSIONS.map((e) => `-iname '*.${e}'`).join(" -o ")} -o -iname '*.php[0-9]' \\
    -o \\( -iname '*.php' ! -name '*.php' \\) \\) -print 2>/dev/null | head -n ${MAX_SOURCES} |
    while IFS= read -r f; do hash_of "$f"; done
done
exit 0
`;

export function exposedCandidates(releaseDir: string): Cmd {
  return shProgram(HASHES, [releaseDir, ...WEBROOTS]);
}

/** URL path → the hashes of the release files it would serve. */
export function parseCandidates(output: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of output.split("\n")) {
    const m = /^@@hash ([0-9a-f]{64}) (\/.+)$/.exec(line);
    if (!m) continue;
    if (!out.has(m[2]!)) out.set(m[2]!, new Set());
    out.get(m[2]!)!.add(m[1]!);
  }
  return out;
}

const MAX_PATHS = 10;

/**
 * The paths to ask for: the ones that must never be served, then files of the source found in the
 * release (vendor/, PHP source), then dotfiles found there.
 */
export function pathsToAsk(candidates: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  const found = [...candidates.keys()].filter((p) => !(NEVER_SERVED as readonly string[]).includes(p));
  const dot = (p: string) => p.includes("/.");
  const ordered = [...found.filter((p) => !dot(p)).sort(), ...found.filter(dot).sort()];
  return [...NEVER_SERVED, ...ordered].slice(0, MAX_PATHS);
}

/** How to stop serving a path found served: what the printed configs deny for it. */
export function exposedFix(urlPath: string): string {
  const printed = "as `cutover server-config nginx|apache` prints";
  if (urlPath.startsWith("/vendor/"))
    return `deny /vendor/ in the web server config, ${printed} with --webroot . (its libraries may run what they are sent: phpunit's eval-stdin.php, CVE-2017-9841), or serve a public/ web root instead of the release root`;
  if (!urlPath.includes("/.") && !/\/(cutover\.ya?ml|auth\.json)$/.test(urlPath))
    return `deny PHP files not named .php (.phtml, .pht, .PHP, .php5, .phar, .inc...) in the web server config, ${printed}: only .php goes to PHP, the rest goes out as source`;
  return `deny dotfiles (except /.well-known/), cutover.yaml and auth.json in the web server config, ${printed}, or serve a public/ web root instead of the release root`;
}
