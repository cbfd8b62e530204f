import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { LineCounter, parseDocument } from "yaml";
import type { ZodIssue } from "zod";
import { configError } from "../errors.js";
import { redact } from "../report/redact.js";
import { quote } from "../shell/quote.js";
import { interpolate } from "./interpolate.js";
import { configSchema, type ParsedConfig } from "./schema.js";
import { SCHEMA_PATH } from "./schema-path.js";
import { closest, keysAt } from "./suggest.js";

export const CONFIG_NAMES = ["cutover.yaml", "cutover.yml"] as const;

export type Env = Readonly<Record<string, string | undefined>>;

export interface LoadedConfig {
  readonly file: string;
  readonly config: ParsedConfig;
  /** Values the file took from the environment: the CLI never prints them. */
  readonly secrets: readonly string[];
}

/** Finds the config file: the one given, or cutover.yaml in the working directory. */
export function findConfigFile(given: string | undefined, cwd: string): string {
  if (given !== undefined) {
    const file = path.resolve(cwd, given);
    if (!isFile(file)) throw configError(`config file not found: ${file}`, "check the --config path");
    return file;
  }
  for (const name of CONFIG_NAMES) {
    const file = path.join(cwd, name);
    if (isFile(file)) return file;
  }
  // Not used silently (a config above may deploy more than this directory), but named.
  const above = configAbove(cwd);
  throw configError(
    `no cutover.yaml in ${cwd}`,
    above
      ? `found ${path.relative(cwd, above)} (${above}): run cutover from ${quote(path.dirname(above))}, or pass -c ${quote(above)}`
      : "run `cutover init` to write one, or pass --config FILE",
  );
}

/** The nearest config file in a directory above `dir`, up to the filesystem root. */
function configAbove(dir: string): string | undefined {
  for (let parent = path.dirname(dir); ; parent = path.dirname(parent)) {
    const file = CONFIG_NAMES.map((name) => path.join(parent, name)).find(isFile);
    if (file) return file;
    if (path.dirname(parent) === parent) return undefined;
  }
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

export function loadConfig(file: string, env: Env = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw configError(`cannot read ${file}: ${(error as Error).message}`);
  }
  return { file, ...parseConfig(text, file, env) };
}

export function parseConfigText(text: string, file: string, env: Env = process.env): ParsedConfig {
  return parseConfig(text, file, env).config;
}

/**
 * Parses config text, fills in `${VAR}` from `env` and validates it; every error names the file,
 * line and key path, and none repeats a value taken from the environment.
 */
export function parseConfig(
  text: string,
  file: string,
  env: Env,
): { config: ParsedConfig; secrets: readonly string[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const line = lineCounter.linePos(first.pos[0]).line;
    throw configError(
      `${file}${line ? `:${line}` : ""}: invalid YAML: ${first.message.split("\n")[0]}`,
      "fix the YAML syntax at that line",
    );
  }
  const { secrets, unset } = interpolate(doc, env);
  if (unset.length > 0) {
    const lines = unset.map(
      (u) =>
        `${file}:${lineCounter.linePos(u.offset).line + u.linesIn}: ${formatPath(u.path)}: environment variable ${u.variable} is not set`,
    );
    const first = unset[0]!.variable;
    throw configError(
      lines[0]!,
      `export ${first} before running cutover, give a default with \${${first}:-value}, or write $\${ for a literal \${`,
      lines.slice(1),
    );
  }
  const data: unknown = doc.toJS() ?? {};
  /** Line of the nearest node that exists on the path (a missing key points at its parent). */
  const lineOf = (issuePath: readonly (string | number)[]): number | undefined => {
    for (let n = issuePath.length; n >= 0; n--) {
      const node = doc.getIn(issuePath.slice(0, n), true) as { range?: [number, number] } | undefined;
      if (node?.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  const result = configSchema.safeParse(data);
  if (result.success) return { config: result.data, secrets };

  // A typo explains the "required" error it causes, so unknown keys are reported first.
  const issues = flattenUnions(result.error.issues).sort(
    (a, b) => Number(b.code === "unrecognized_keys") - Number(a.code === "unrecognized_keys"),
  );
  const lines = issues.map((issue) => {
    const line = lineOf(issue.path);
    return redact(`${file}${line ? `:${line}` : ""}: ${describeIssue(issue)}`, secrets);
  });
  throw configError(
    lines[0]!,
    `fix the key named above; every key is described in README.md's "Configuration" section and in ${SCHEMA_PATH} of the cutover package`,
    lines.slice(1),
  );
}

/**
 * A value that matches no member of a union (a host as string or object, say) gets the errors of the
 * member of the same shape, not a bare "Invalid input".
 */
function flattenUnions(issues: readonly ZodIssue[]): ZodIssue[] {
  return issues.flatMap((issue) => {
    if (issue.code !== "invalid_union") return [issue];
    const wrongShape = (e: { issues: ZodIssue[] }) =>
      e.issues.some((i) => i.code === "invalid_type" && i.path.length === issue.path.length);
    const branch = issue.unionErrors.find((e) => !wrongShape(e)) ?? issue.unionErrors[0];
    return branch ? flattenUnions(branch.issues) : [issue];
  });
}

function formatPath(issuePath: readonly (string | number)[]): string {
  return issuePath.reduce<string>(
    (text, segment) =>
      typeof segment === "number" ? `${text}[${segment}]` : text ? `${text}.${segment}` : segment,
    "",
  );
}

function describeIssue(issue: ZodIssue): string {
  const where = formatPath(issue.path) || "(top level)";
  if (issue.code === "unrecognized_keys") {
    const known = keysAt(configSchema, issue.path);
    return issue.keys
      .map((key) => {
        const suggestion = closest(key, known);
        const keyPath = formatPath([...issue.path, key]);
        return suggestion
          ? `${keyPath}: unknown key; did you mean "${suggestion}"?`
          : `${keyPath}: unknown key (known here: ${known.join(", ")})`;
      })
      .join("; ");
  }
  if (issue.code === "invalid_type") return `${where}: expected ${issue.expected}, got ${issue.received}`;
  return `${where}: ${issue.message}`;
}
