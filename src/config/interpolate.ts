import { type Document, isPair, isScalar, isSeq, parse, type Scalar, visit } from "yaml";

/**
 * `${VAR}` or `${VAR:-default}` (the default when VAR is unset or empty, as in sh), and `$${` for a
 * literal `${`. `$VAR` without braces, `${CUTOVER_…}` (set by cutover for hooks) and other shell forms
 * such as `${1}` or `${VAR#x}` are left as written, for the shell of a hook.
 */
const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface UnsetVariable {
  readonly variable: string;
  /** Key path of the value that names it, as the schema sees it. */
  readonly path: readonly (string | number)[];
  /** Offset in the file of the value, and lines into a multi-line value. */
  readonly offset: number;
  readonly linesIn: number;
}

export interface Interpolation {
  /** Values taken from the environment: never printed (see report/redact.ts). */
  readonly secrets: readonly string[];
  readonly unset: readonly UnsetVariable[];
}

/**
 * Replaces references in the document's values (never its keys or comments) in place. A value that
 * is one unquoted reference and nothing else is read as YAML reads a plain value, so
 * `port: ${SSH_PORT}` is a number; a quoted one stays a string.
 */
export function interpolate(doc: Document, env: Readonly<Record<string, string | undefined>>): Interpolation {
  const secrets = new Set<string>();
  const unset: UnsetVariable[] = [];
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === "key" || typeof node.value !== "string" || !node.value.includes("${")) return;
      const text = node.value;
      const replaced = text.replace(REFERENCE, (match, name: string | undefined, fallback, index: number) => {
        if (name === undefined) return "${";
        if (name.startsWith("CUTOVER_")) return match;
        const value = env[name];
        if (fallback !== undefined && (value === undefined || value === "")) return fallback;
        if (value === undefined) {
          const block = node.type === "BLOCK_LITERAL" || node.type === "BLOCK_FOLDED";
          const linesIn = text.slice(0, index).split("\n").length - 1 + (block ? 1 : 0);
          unset.push({
            variable: name,
            path: keyPath(ancestors, node),
            offset: node.range?.[0] ?? 0,
            linesIn,
          });
          return match;
        }
        if (value !== "") secrets.add(value);
        return value;
      });
      node.value = node.type === "PLAIN" && wholeReference(text) ? plainValue(replaced) : replaced;
    },
  });
  return { secrets: [...secrets], unset };
}

function wholeReference(text: string): boolean {
  const matches = text.match(REFERENCE);
  return matches?.length === 1 && matches[0] === text;
}

/** A number or true/false as YAML would read it unquoted; anything else stays the string. */
function plainValue(text: string): unknown {
  try {
    const value: unknown = parse(text);
    return typeof value === "number" || typeof value === "boolean" ? value : text;
  } catch {
    return text;
  }
}

function keyPath(ancestors: readonly unknown[], node: Scalar): (string | number)[] {
  const chain = [...ancestors, node];
  const out: (string | number)[] = [];
  chain.forEach((item, i) => {
    if (isPair(item)) out.push(String(isScalar(item.key) ? item.key.value : item.key));
    else if (isSeq(item)) out.push(item.items.indexOf(chain[i + 1] as never));
  });
  return out;
}
