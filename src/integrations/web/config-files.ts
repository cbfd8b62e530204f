import path from "node:path/posix";

/** Config file texts read from a host, by absolute path (untrusted: any content may be there). */
export type ConfigTexts = ReadonlyMap<string, string>;

/** Where a directive is: its file and line, and the include directive that brought the file in. */
export interface Where {
  readonly file: string;
  readonly line: number;
  readonly via?: Where;
}

/** `fastcgi.conf:2 (reached from fastcgi-php.conf:13, from sites-enabled/app:12)`, full paths. */
export function whereText(at: Where): string {
  const chain: string[] = [];
  for (let v = at.via; v; v = v.via) chain.push(`${v.file}:${v.line}`);
  return `${at.file}:${at.line}${chain.length > 0 ? ` (reached from ${chain.join(", from ")})` : ""}`;
}

/** A shell-style glob (`*`, `?`, `[...]`, none crossing a `/`) as an anchored regular expression. */
function globRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[" && pattern.indexOf("]", i + 2) > 0) {
      const end = pattern.indexOf("]", i + 2);
      const body = pattern
        .slice(i + 1, end)
        .replace(/^!/, "^")
        .replace(/\\/g, "\\\\");
      re += `[${body}]`;
      i = end;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/**
 * The files an include pattern names, sorted as the servers sort them: a glob matches files, a
 * plain path a file or (Apache) every file below a directory.
 */
export function includedFiles(texts: ConfigTexts, pattern: string): string[] {
  const glob = globRegExp(path.normalize(pattern).replace(/\/$/, ""));
  const dir = `${path.normalize(pattern).replace(/\/$/, "")}/`;
  return [...texts.keys()].filter((file) => glob.test(file) || file.startsWith(dir)).sort();
}

/** An include argument as an absolute pattern: relative ones are relative to the server's prefix. */
export function absolutePattern(pattern: string, prefix: string): string {
  return pattern.startsWith("/") ? pattern : path.join(prefix, pattern);
}
