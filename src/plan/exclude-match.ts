/**
 * rsync's --exclude semantics for the patterns people write (names, `*`, `?`, a leading `/` that
 * anchors at the source root, a trailing `/` for directories only, `/` inside), so the source can be
 * walked here without asking rsync. Anything else (`**`, `[...]`, backslashes, `+ `/`- ` prefixes, `!`)
 * makes `compileExcludes` return undefined and the caller asks rsync itself. A test compares this
 * with rsync's own choice on many patterns and paths.
 */
export type ExcludeMatcher = (path: string, isDir: boolean) => boolean;

interface Rule {
  readonly dirOnly: boolean;
  readonly anchored: boolean;
  readonly wholePath: boolean;
  readonly regex: RegExp;
}

/** rsync matches bytes ("?" is one byte of "é"): patterns and paths are compared as latin1 views of their UTF-8. */
const bytes = (s: string) => (NON_ASCII.test(s) ? Buffer.from(s, "utf8").toString("latin1") : s);
const NON_ASCII = /[^\p{ASCII}]/u;

export function compileExcludes(patterns: readonly string[]): ExcludeMatcher | undefined {
  const rules: Rule[] = [];
  // A plain name (no wildcard, no slash but a trailing one) matches a last path component equal to
  // it: a set lookup per path instead of a regex test (bytes compare equal exactly when the names do).
  const names = new Set<string>();
  const dirNames = new Set<string>();
  for (const pattern of patterns) {
    const raw = bytes(pattern);
    if (/\*\*|[[\]\\]/.test(raw) || /^[-+] /.test(raw) || raw === "!" || raw === "") return undefined;
    // rsync takes one trailing "/" as "directories only" and keeps the rest: "logs//" matches nothing.
    if (raw.endsWith("//")) return undefined;
    let p = raw;
    const dirOnly = p.endsWith("/");
    p = p.replace(/\/+$/, "");
    const anchored = p.startsWith("/");
    p = p.replace(/^\/+/, "");
    if (p === "" || p.includes("//")) return undefined;
    if (!anchored && !/[*?/]/.test(p)) {
      (dirOnly ? dirNames : names).add(pattern.replace(/\/+$/, ""));
      continue;
    }
    const body = p
      .split("")
      .map((c) => (c === "*" ? "[^/]*" : c === "?" ? "[^/]" : c.replace(/[.+^${}()|]/g, "\\$&")))
      .join("");
    rules.push({
      dirOnly,
      anchored,
      wholePath: anchored || p.includes("/"),
      regex: new RegExp(`^${body}$`, "s"),
    });
  }
  return (name, isDir) => {
    const last = name.slice(name.lastIndexOf("/") + 1);
    if (names.has(last) || (isDir && dirNames.has(last))) return true;
    if (rules.length === 0) return false;
    const path = bytes(name);
    return rules.some((r) => {
      if (r.dirOnly && !isDir) return false;
      if (!r.wholePath) return r.regex.test(path.slice(path.lastIndexOf("/") + 1));
      if (r.anchored) return r.regex.test(path);
      for (let at = 0; at >= 0; at = path.indexOf("/", at) + 1 || -1) {
        if (r.regex.test(path.slice(at))) return true;
      }
      return false;
    });
  };
}

/**
 * find tests for directories that need no descending into because these patterns exclude them:
 * `-name X` for a name matched anywhere, `-path` for a literal path (anchored at the root, or at any
 * depth). Only a shortcut: what is listed is still matched by `compileExcludes`, and only patterns
 * it accepts are given.
 */
export function findPrunes(patterns: readonly string[]): string[][] {
  const prunes: string[][] = [];
  for (const raw of patterns) {
    const p = raw.replace(/\/+$/, "");
    if (!p.includes("/")) prunes.push(["-name", p]);
    else if (/[*?]/.test(p)) continue;
    else if (p.startsWith("/")) prunes.push(["-path", `.${p}`]);
    // find's `*` also matches "/": any depth, like rsync's pattern with a slash inside.
    else prunes.push(["-path", `./${p}`], ["-path", `*/${p}`]);
  }
  return prunes;
}
