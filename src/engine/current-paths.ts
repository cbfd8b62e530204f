import type { ResolvedStage } from "../config/resolve.js";
import { CutoverError } from "../errors.js";
import { filesToScan, parseScan, SCAN_LINES, scanCmds } from "../integrations/php/current-scan.js";
import type { Listing } from "../plan/manifest.js";
import type { CurrentScan } from "../plan/release-meta.js";
import type { Cmd } from "../shell/cmd.js";
import type { Emit } from "./events.js";
import type { Host } from "./php-runtime.js";
import { runStep } from "./steps.js";

/** What the scan looks for: DEPLOY_PATH/current/. */
export const currentNeedle = (t: Host): string => `${t.layout.current}/`;

/** The scan's commands for a release: only files `listing` shows new or found before, when it can tell. */
export function currentScanCmds(
  t: Host,
  release: string,
  listing: Listing,
  previous: CurrentScan | undefined,
): { needle: string; cmds: Cmd[] } {
  const needle = currentNeedle(t);
  const files = filesToScan(listing, previous, needle);
  return { needle, cmds: files?.length === 0 ? [] : scanCmds(t.layout.release(release), needle, files) };
}

/**
 * The scan's commands when they need no listing: with no findings of the previous release to reuse
 * (for this literal), every file is read. Undefined otherwise (see currentScanCmds).
 */
export function wholeScanCmds(
  t: Host,
  release: string,
  previous: CurrentScan | undefined,
): Cmd[] | undefined {
  const needle = currentNeedle(t);
  return previous?.needle === needle ? undefined : scanCmds(t.layout.release(release), needle, undefined);
}

/**
 * Warns about (or refuses) code that names DEPLOY_PATH/current, from the scan's output: it can mix
 * releases mid-request. Returns this release's findings to record, when all are known.
 */
export function currentScanFindings(
  t: Host,
  stage: ResolvedStage,
  needle: string,
  output: string,
  emit: Emit,
): CurrentScan | undefined {
  const scan = parseScan(output);
  const hits = scan.hits;
  const found = scan.files ? { needle, files: scan.files } : undefined;
  if (hits.length === 0) return found;
  const message = `${t.host.name}: the release names ${t.layout.current}/ in ${hits.length}${hits.length === SCAN_LINES ? "+" : ""} place${hits.length === 1 ? "" : "s"}: such paths resolve current again in mid-request and can mix two releases`;
  if (stage.php.forbidCurrentPaths) {
    throw new CutoverError("current-paths", message, {
      detail: hits.slice(0, 10),
      fix: "build paths from __DIR__ (or the release path) instead, or set php.forbid_current_paths: false",
    });
  }
  emit({ type: "warning", host: t.host.name, message: `${message}; first: ${hits.slice(0, 3).join(" | ")}` });
  return found;
}

/**
 * The scan in its own round trip: reads only what the previous release's findings do not cover
 * (integrations/php/current-scan.ts).
 */
export async function scanCurrentPaths(
  t: Host,
  stage: ResolvedStage,
  release: string,
  listing: Listing,
  previous: CurrentScan | undefined,
  emit: Emit,
): Promise<CurrentScan | undefined> {
  const { needle, cmds } = currentScanCmds(t, release, listing, previous);
  const output =
    cmds.length > 0
      ? await runStep({ executor: t.executor, emit }, "scan for paths through current", cmds)
      : undefined;
  return currentScanFindings(t, stage, needle, output?.stdout.toString("utf8") ?? "", emit);
}
