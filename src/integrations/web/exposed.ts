import { type Cmd, shProgram } from "../../shell/cmd.js";

/** What must never be served, whatever the app: secrets, the repository, the deploy config. */
const NEVER_SERVED = ["/.env", "/cutover.yaml", "/.git/HEAD"] as const;

/** Where a web root usually is inside a release. */
const WEBROOTS = ["", "public", "web", "htdocs", "www"];

/**
 * The sha256 of each file under a release's likely web roots that a web server must not serve:
 * dotfiles, cutover.yaml, .git/HEAD, Composer's auth.json (its credentials), as `@@hash HEX /url-path`. A response with the same body is the
 * file itself, not an app's fallback page that happens to answer 200.
 */
const HASHES = `rel=$1; shift
for sub; do
  dir=\${rel%/}\${sub:+/$sub}
  [ -d "$dir" ] || continue
  for f in "$dir"/.[!.]* "$dir/cutover.yaml" "$dir/cutover.yml" "$dir/.git/HEAD" "$dir/auth.json"; do
    [ -f "$f" ] && [ -r "$f" ] || continue
    case $f in *'
'*) continue ;; esac
    printf '@@hash %s %s\\n' "$(sha256sum < "$f" | cut -d' ' -f1)" "\${f#"$dir"}"
  done
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

const MAX_PATHS = 8;

/** The paths to ask for: the ones that must never be served, then dotfiles found in the release. */
export function pathsToAsk(candidates: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  const found = [...candidates.keys()].filter((p) => !(NEVER_SERVED as readonly string[]).includes(p));
  return [...NEVER_SERVED, ...found.sort()].slice(0, MAX_PATHS);
}
