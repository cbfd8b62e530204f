import { accessSync, constants } from "node:fs";
import { usageError } from "../errors.js";

/** `--hosts a,b`: the names, trimmed; undefined when not given. */
export function hostList(value: string | undefined): string[] | undefined {
  return commaList(
    value,
    "--hosts",
    "host names",
    "name hosts (--hosts web1,web2), or leave --hosts out for all",
  );
}

/**
 * A flag's comma-separated list. An empty list means "all" downstream: `--hosts "$CANARY"` with
 * CANARY unset must not do that, so it is a usage error naming the flag.
 */
export function commaList(
  value: string | undefined,
  flag: string,
  what: string,
  fix: string,
): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean);
  if (items.length === 0) throw usageError(`${flag}: no ${what} given (got "${value}")`, fix);
  return items;
}

/** A positive whole number from a flag (`fallback` when not given); anything else is a usage error. */
export function positiveInt<T extends number | undefined>(
  value: string | undefined,
  flag: string,
  fallback: T,
): number | T {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw usageError(`${flag}: expected a positive whole number, got "${value}"`);
  return n;
}

/** A number of seconds from a flag (0 when not given); anything else is a usage error naming the flag. */
export function seconds(value: string | undefined, flag: string): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw usageError(`${flag}: expected a number of seconds, got "${value}"`);
  return n;
}

/**
 * Paths a flag names on this machine: one that is missing or unreadable is a usage error, where the
 * reader would skip it without a word. A glob is left to the reader, which expands it.
 */
export function checkReadable(paths: readonly string[], flag: string, fix: string): void {
  for (const p of paths) {
    if (/[*?[]/.test(p)) continue;
    try {
      accessSync(p, constants.R_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why =
        code === "ENOENT"
          ? "does not exist"
          : code === "EACCES"
            ? "cannot be read (permission denied)"
            : code;
      throw usageError(`${flag}: ${p} ${why}`, fix);
    }
  }
}
