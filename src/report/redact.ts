/**
 * Values shorter than this are not masked: "22" or "yes" from the environment are no secret, and
 * masking them would blank every such run of characters in the output.
 */
export const MIN_SECRET_LENGTH = 4;

export const REDACTED = "[REDACTED]";

/** Replaces every secret in `text`, as written and as it appears inside JSON or shell quoting. */
export function redact(text: string, secrets: readonly string[]): string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    const shell = secret.replace(/'/g, `'\\''`);
    for (const form of [secret, shell]) forms.add(form).add(JSON.stringify(form).slice(1, -1));
  }
  let out = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) out = out.split(form).join(REDACTED);
  return out;
}

/** The secrets of one CLI run, learnt when its config is loaded; every line it prints goes through it. */
export class Redactor {
  readonly #secrets = new Set<string>();

  add(secrets: readonly string[]): void {
    for (const secret of secrets) this.#secrets.add(secret);
  }

  text(text: string): string {
    return this.#secrets.size === 0 ? text : redact(text, [...this.#secrets]);
  }
}

/** Every string inside a JSON-like value, redacted: keys and structure stay as they are. */
export function redactValues(value: unknown, text: (s: string) => string): unknown {
  if (typeof value === "string") return text(value);
  if (Array.isArray(value)) return value.map((v) => redactValues(v, text));
  if (value !== null && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValues(v, text)]));
  return value;
}
