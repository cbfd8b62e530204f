import { CLOCK_PROBE } from "./listing-stamp.js";
import { isAdoptableName, isIdShaped } from "./release-id.js";
import { parseReleaseMeta, type ReleaseMeta } from "./release-meta.js";

/**
 * Which of the names a host holds in releases/ and .cutover/releases/ are cutover's: only what
 * these rules accept may ever be removed; everything else is reported and left alone.
 */

/** Metadata whose file name is its id and that parses; the rest is a problem, one line each. */
export function ownMetas(files: readonly { file: string; text: string }[]): {
  metas: Map<string, ReleaseMeta>;
  problems: string[];
} {
  const metas = new Map<string, ReleaseMeta>();
  const problems: string[] = [];
  for (const { file, text } of files) {
    const id = file.replace(/\.json$/, "");
    const parsed = isAdoptableName(id) ? parseReleaseMeta(text) : undefined;
    // Another tool's release name is cutover's only once `adopt` recorded it.
    if (!parsed || parsed.id !== id || (!isIdShaped(id) && !parsed.adopted)) {
      problems.push(
        `.cutover/releases/${JSON.stringify(file).slice(1, -1)} is not valid release metadata (or its id is not its file name); ignored`,
      );
      continue;
    }
    metas.set(id, parsed);
  }
  return { metas, problems };
}

/**
 * The entries of releases/: real directories with an id-shaped (or adopted) name, regular files
 * named as the listing's clock probe (a killed run's, see listing-stamp.ts), and everything else.
 */
export function sortReleaseEntries(
  entries: readonly { kind: string; name: string }[],
  metas: ReadonlyMap<string, ReleaseMeta>,
): { releaseDirs: string[]; clockProbes: string[]; foreign: string[] } {
  const releaseDirs: string[] = [];
  const clockProbes: string[] = [];
  const foreign: string[] = [];
  for (const e of entries) {
    if (e.kind === "dir" && (isIdShaped(e.name) || metas.get(e.name)?.adopted)) releaseDirs.push(e.name);
    else if (e.kind === "file" && CLOCK_PROBE.test(e.name)) clockProbes.push(e.name);
    else foreign.push(e.name);
  }
  return { releaseDirs, clockProbes, foreign };
}

/**
 * The release `current` resolves to or into (physically: releases/<id>, or a directory inside it),
 * when its name is id-shaped. That release is live and is never removed.
 */
export function resolvedRelease(resolved: string, releasesReal: string): string | undefined {
  if (!resolved || !releasesReal || !resolved.startsWith(`${releasesReal}/`)) return undefined;
  const name = resolved.slice(releasesReal.length + 1).split("/")[0]!;
  return isAdoptableName(name) ? name : undefined;
}
