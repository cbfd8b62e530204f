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

/** Files parsed for one main config, each include counted: beyond this, includes are not followed. */
const MAX_PARSES = 20_000;
const MAX_BYTES = 64 * 1024 * 1024;

/**
 * What one main config may pull in through includes. The files are untrusted: an include loop, or
 * files that each include their whole directory again, would otherwise be parsed without end.
 */
export class IncludeBudget {
  private parses = 0;
  private bytes = 0;
  /** The first include not followed, and why. */
  cut: string | undefined;

  /** Counts the main file itself. */
  start(text: string): void {
    this.parses += 1;
    this.bytes += text.length;
  }

  /** True when `file`, included at `at`, may be parsed: not one being read already, within the budget. */
  allow(file: string, text: string, at: Where): boolean {
    for (let v: Where | undefined = at; v; v = v.via) {
      if (v.file === file) {
        this.cut ??= `${whereText(at)} includes ${file}, which is being read already (an include loop): not followed`;
        return false;
      }
    }
    if (this.parses >= MAX_PARSES || this.bytes + text.length > MAX_BYTES) {
      this.cut ??= `${whereText(at)}: the includes pull in more than ${MAX_PARSES} files or ${MAX_BYTES >> 20} MiB; the rest is not followed`;
      return false;
    }
    this.parses += 1;
    this.bytes += text.length;
    return true;
  }
}

/**
 * Whether a root a config names is the deploy path or below it, spelled as the kernel reads it:
 * `/srv//app` and `/srv/./app/current` are /srv/app too.
 */
export function underPath(root: string, deployPath: string): boolean {
  const [dir, base] = [root, deployPath].map((p) => path.normalize(p).replace(/(.)\/$/, "$1"));
  return dir === base || dir!.startsWith(base === "/" ? "/" : `${base}/`);
}
