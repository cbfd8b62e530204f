import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ExitCode } from "../errors.js";
import { loadWithCodeCache } from "./code-cache.js";

/**
 * dist/cutover.cjs, what bin/cutover.js requires: loads the CLI bundle (dist/cli.cjs) with V8's
 * code cache, runs it, then saves the cache if it had none and the run succeeded. Kept apart from
 * the bundle, and small: it is what every run compiles without a cache.
 */
export async function main(argv: readonly string[]): Promise<ExitCode> {
  const bundle = path.join(path.dirname(fileURLToPath(import.meta.url)), "cli.cjs");
  const cli = loadWithCodeCache(bundle, cacheDir(), runKind(argv));
  const code = await (cli.exports as { main: (argv: readonly string[]) => Promise<ExitCode> }).main(argv);
  // Only a run that went well leaves a cache: a usage error or a failed deploy changes nothing here either.
  if (code === 0) cli.save();
  return code;
}

/**
 * $XDG_CACHE_HOME/cutover-code-cache (~/.cache by default), beside cutover/ (the build cache,
 * whose entries are its own); none without a home directory.
 */
function cacheDir(): string | undefined {
  const xdg = process.env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : homeCache();
  return base === undefined ? undefined : path.join(base, "cutover-code-cache");
}

function homeCache(): string | undefined {
  try {
    const home = os.homedir(); // throws without $HOME and without a passwd entry
    return home ? path.join(home, ".cache") : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A cache holds the functions its run compiled: deploys (and rollbacks, and pull, which deploys)
 * get their own, so a first `cutover --version` does not leave them a cache of little use.
 */
function runKind(argv: readonly string[]): string {
  return argv.some((a) => a === "deploy" || a === "rollback" || a === "pull") ? "deploy" : "cli";
}
