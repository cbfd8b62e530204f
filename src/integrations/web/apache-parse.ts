import {
  absolutePattern,
  type ConfigTexts,
  IncludeBudget,
  includedFiles,
  type Where,
} from "./config-files.js";

/** One Apache directive or section (`<VirtualHost …>` with its body), and where it was written. */
export interface ApacheDirective {
  readonly name: string;
  readonly args: readonly string[];
  readonly at: Where;
  readonly body?: readonly ApacheDirective[];
}

/** Apache's argument words: "quoted" (with \" and \\) or bare. */
function words(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/"((?:[^"\\]|\\.)*)"?|'([^']*)'?|(\S+)/g))
    out.push(m[3] ?? m[2] ?? m[1]!.replace(/\\(["\\])/g, "$1"));
  return out;
}

/** Physical lines joined where they end in a backslash, each with its first line number. */
function logicalLines(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split("\n").forEach((raw, i) => {
    const current = pending ? { text: pending.text + raw, line: pending.line } : { text: raw, line: i + 1 };
    if (/\\\s*$/.test(raw)) pending = { ...current, text: current.text.replace(/\\\s*$/, " ") };
    else {
      pending = undefined;
      out.push(current);
    }
  });
  return out;
}

export interface ParsedApache {
  readonly directives: readonly ApacheDirective[];
  readonly unresolved: readonly string[];
  /** Every file read, the main one first. */
  readonly files: readonly string[];
  /** The first include not followed (a loop, or past the budget), and why. */
  readonly cut?: string;
}

const MAX_DEPTH = 16;

/**
 * Parses `file` and every file its `Include` and `IncludeOptional` name (relative to ServerRoot,
 * `serverRoot` until the config sets one), in order, each remembering the include that brought it.
 */
export function parseApache(texts: ConfigTexts, file: string, serverRoot: string): ParsedApache {
  const unresolved: string[] = [];
  const files: string[] = [];
  let root = serverRoot;
  const budget = new IncludeBudget();
  budget.start(texts.get(file) ?? "");
  // `Define NAME value` as Apache reads it: in order, and ${NAME} in a later line is its value,
  // put in before the line is split into words (a value with spaces or quotes splits as written).
  const defines = new Map<string, string>();
  const expand = (line: string) =>
    line.replace(/\$\{(\w+)\}/g, (whole, name: string) => defines.get(name) ?? whole);
  const parseFile = (name: string, via: Where | undefined, depth: number): ApacheDirective[] => {
    files.push(name);
    const stack: ApacheDirective[][] = [[]];
    const open: { name: string; args: string[]; at: Where }[] = [];
    for (const { text, line } of logicalLines(texts.get(name) ?? "")) {
      const trimmed = expand(text.trim());
      if (trimmed === "" || trimmed.startsWith("#")) continue;
      const at: Where = { file: name, line, ...(via ? { via } : {}) };
      const close = /^<\/([\w-]+)\s*>$/.exec(trimmed);
      const section = /^<([\w-]+)\s*(.*?)>$/.exec(trimmed);
      if (close && open.length > 0) {
        const body = stack.pop()!;
        const { name: n, args, at: where } = open.pop()!;
        stack.at(-1)!.push({ name: n, args, at: where, body });
      } else if (section && !close) {
        open.push({ name: section[1]!, args: words(section[2]!), at });
        stack.push([]);
      } else {
        const [head, ...args] = words(trimmed);
        if (!head) continue;
        if (/^define$/i.test(head) && args[0] && args[1] !== undefined) defines.set(args[0], args[1]);
        if (/^undefine$/i.test(head) && args[0]) defines.delete(args[0]);
        const include = /^include(optional)?$/i.test(head);
        if (/^serverroot$/i.test(head) && args[0]) root = args[0];
        if (include && args.length === 1 && depth < MAX_DEPTH) {
          const pattern = absolutePattern(args[0]!, root);
          const files = includedFiles(texts, pattern);
          if (files.length === 0) unresolved.push(pattern);
          for (const f of files) {
            if (!budget.allow(f, texts.get(f) ?? "", at)) continue;
            // One by one: a spread of a huge file's directives would overflow the stack.
            for (const d of parseFile(f, at, depth + 1)) stack.at(-1)!.push(d);
          }
        } else stack.at(-1)!.push({ name: head, args, at });
      }
    }
    // An unclosed section still counts, with what it holds.
    while (open.length > 0) {
      const body = stack.pop()!;
      stack.at(-1)!.push({ ...open.pop()!, body });
    }
    return stack[0]!;
  };
  const directives = parseFile(file, undefined, 0);
  return { directives, unresolved, files, ...(budget.cut ? { cut: budget.cut } : {}) };
}
