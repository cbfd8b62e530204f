import {
  absolutePattern,
  type ConfigTexts,
  IncludeBudget,
  includedFiles,
  type Where,
} from "./config-files.js";

/** One nginx directive, with its block when it has one, and where it was written. */
export interface Directive {
  readonly name: string;
  readonly args: readonly string[];
  readonly at: Where;
  readonly block?: readonly Directive[];
}

interface Token {
  readonly text: string;
  readonly line: number;
  /** `;`, `{` or `}` as syntax, not inside quotes. */
  readonly punct: boolean;
}

const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r" };

/** nginx's tokens: words, quoted strings (with \-escapes), `;`, `{`, `}`; `#` starts a comment. */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "\n") line += 1;
    if (/\s/.test(c)) {
      i += 1;
    } else if (c === "#") {
      while (i < text.length && text[i] !== "\n") i += 1;
    } else if (c === ";" || c === "{" || c === "}") {
      tokens.push({ text: c, line, punct: true });
      i += 1;
    } else if (c === '"' || c === "'") {
      const start = line;
      let value = "";
      for (i += 1; i < text.length && text[i] !== c; i++) {
        if (text[i] === "\n") line += 1;
        if (text[i] === "\\" && i + 1 < text.length) {
          i += 1;
          value += ESCAPES[text[i]!] ?? (text[i] === c || text[i] === "\\" ? text[i] : `\\${text[i]}`);
        } else value += text[i];
      }
      tokens.push({ text: value, line: start, punct: false });
      i += 1;
    } else {
      let value = "";
      while (i < text.length && !/[\s;{}]/.test(text[i]!)) {
        // ${name} is a variable, not a block.
        if (text[i] === "$" && text[i + 1] === "{") {
          const end = text.indexOf("}", i);
          value += text.slice(i, end < 0 ? text.length : end + 1);
          i = end < 0 ? text.length : end + 1;
        } else value += text[i++];
      }
      tokens.push({ text: value, line, punct: false });
    }
  }
  return tokens;
}

export interface ParsedNginx {
  readonly directives: readonly Directive[];
  /** Include patterns (absolute) that matched no file read so far: the host may have them. */
  readonly unresolved: readonly string[];
  /** Every file read, the main one first. */
  readonly files: readonly string[];
  /** The first include not followed (a loop, or past the budget), and why. */
  readonly cut?: string;
}

const MAX_DEPTH = 16;

/**
 * Parses `file` and every file it includes, as nginx does: an `include` is replaced by the
 * directives of the files it names, each remembering the include that brought it in. A relative
 * include is relative to nginx's prefix: the main config's directory (or, for a site file read on
 * its own, the first of `prefixes` that has it). Malformed text ends its block, never the reading.
 */
export function parseNginx(texts: ConfigTexts, file: string, prefixes: readonly string[]): ParsedNginx {
  const unresolved: string[] = [];
  const files: string[] = [];
  const budget = new IncludeBudget();
  budget.start(texts.get(file) ?? "");
  const parseFile = (name: string, via: Where | undefined, depth: number): Directive[] => {
    files.push(name);
    const tokens = tokenize(texts.get(name) ?? "");
    let pos = 0;
    const block = (): Directive[] => {
      const out: Directive[] = [];
      while (pos < tokens.length) {
        const first = tokens[pos]!;
        if (first.punct && first.text === "}") {
          pos += 1;
          return out;
        }
        const words: Token[] = [];
        while (pos < tokens.length && !tokens[pos]!.punct) words.push(tokens[pos++]!);
        const end = tokens[pos++];
        if (words.length === 0) continue;
        const at: Where = { file: name, line: words[0]!.line, ...(via ? { via } : {}) };
        const [head, ...rest] = words.map((w) => w.text);
        const directive = { name: head!, args: rest, at };
        if (end?.text === "{") out.push({ ...directive, block: block() });
        else if (head === "include" && rest.length === 1 && depth < MAX_DEPTH) {
          const patterns = prefixes.map((p) => absolutePattern(rest[0]!, p));
          const files = patterns.map((p) => includedFiles(texts, p)).find((f) => f.length > 0) ?? [];
          if (files.length === 0) unresolved.push(...new Set(patterns));
          for (const f of files) {
            if (!budget.allow(f, texts.get(f) ?? "", at)) continue;
            // One by one: a spread of a huge file's directives would overflow the stack.
            for (const d of parseFile(f, at, depth + 1)) out.push(d);
          }
        } else out.push(directive);
      }
      return out;
    };
    return block();
  };
  const directives = parseFile(file, undefined, 0);
  return { directives, unresolved, files, ...(budget.cut ? { cut: budget.cut } : {}) };
}

/** Every directive named `name` directly in `block`. */
export function named(block: readonly Directive[] | undefined, name: string): Directive[] {
  return (block ?? []).filter((d) => d.name === name);
}
