import { usageError } from "../errors.js";

/** `--hosts a,b`: the names, trimmed; undefined when not given. */
export function hostList(value: string | undefined): string[] | undefined {
  return value
    ?.split(",")
    .map((h) => h.trim())
    .filter(Boolean);
}

/** A number of seconds from a flag (0 when not given); anything else is a usage error naming the flag. */
export function seconds(value: string | undefined, flag: string): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw usageError(`${flag}: expected a number of seconds, got "${value}"`);
  return n;
}
