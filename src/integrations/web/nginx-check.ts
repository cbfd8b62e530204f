/** How an nginx config hands PHP its paths, read from its SCRIPT_FILENAME, DOCUMENT_ROOT and set lines. */
export interface NginxPaths {
  /** The variable SCRIPT_FILENAME starts with, through one `set $var $source;` (e.g. "realpath_root"). */
  readonly scriptRoot: string | undefined;
  /**
   * SCRIPT_FILENAME and DOCUMENT_ROOT each use $realpath_root directly: nginx resolves `current` for
   * each, so a switch in between gives one request paths from two releases.
   */
  readonly resolvedTwice: boolean;
}

const param = (name: string) => new RegExp(`fastcgi_param\\s+${name}\\s+"?\\$(\\w+)`);

export function nginxPaths(lines: readonly string[]): NginxPaths {
  const sets = new Map<string, string>();
  for (const line of lines) {
    const m = /\bset\s+\$(\w+)\s+"?\$(\w+)"?\s*;/.exec(line);
    if (m) sets.set(m[1]!, m[2]!);
  }
  const first = (name: string) =>
    lines.map((line) => param(name).exec(line)?.[1]).find((v) => v !== undefined);
  const script = first("SCRIPT_FILENAME");
  return {
    scriptRoot: script === undefined ? undefined : (sets.get(script) ?? script),
    resolvedTwice: script === "realpath_root" && first("DOCUMENT_ROOT") === "realpath_root",
  };
}
