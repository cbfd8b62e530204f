import type { Manifest } from "../plan/manifest.js";
import { EDITS_LIMIT, EDITS_MISMATCH, manifestEdits, manifestFromPrevious } from "../plan/manifest-edits.js";
import { writeFileAtomic } from "../plan/records.js";
import type { Cmd } from "../shell/cmd.js";
import { StepError } from "./step-error.js";
import { runStep, type StepContext } from "./steps.js";

/** How a release's manifest gets written: as edits of the previous one if worth it, and whole. */
export interface ManifestWrite {
  readonly cmds: readonly Cmd[];
  readonly whole: readonly Cmd[];
}

/** The previous release's manifest on the host (`file`) and its text, as the delta upload read it. */
export interface PreviousManifest {
  readonly file: string;
  readonly text: string;
}

/**
 * Edits are sent when they are at most half the manifest's size (and within manifestEdits' limit).
 * `stampFrom`: the release directory, whose mtime the listing set to its start (see manifestProbe):
 * the manifest takes it, so a linked file edited in place after the listing (the live release
 * shares it) is newer than the manifest to the next deploy's check, even if edited before the
 * manifest was written.
 */
export function manifestWrite(
  file: string,
  manifest: Manifest,
  previous?: PreviousManifest,
  stampFrom = "",
): ManifestWrite {
  const whole = writeFileAtomic(file, manifest.text, stampFrom);
  const half = Buffer.byteLength(manifest.text) / 2;
  const edits = previous
    ? manifestEdits(previous.text, manifest.text, Math.min(half, EDITS_LIMIT))
    : undefined;
  if (!previous || edits === undefined) return { cmds: whole, whole };
  return { cmds: [manifestFromPrevious(previous.file, file, manifest.checksum, edits, stampFrom)], whole };
}

/**
 * Runs the manifest's write and then `rest` as one step. If the host could not make the manifest
 * from its previous one (not the file the edits were made from), nothing after it ran: unless
 * `stillWanted` throws (the run stopped meanwhile), the step runs again with the whole manifest.
 */
export async function runWithManifest(
  ctx: StepContext,
  title: string,
  manifest: ManifestWrite,
  rest: readonly Cmd[],
  stillWanted: () => void = () => undefined,
): Promise<void> {
  try {
    await runStep(ctx, title, [...manifest.cmds, ...rest]);
  } catch (error) {
    const mismatch =
      error instanceof StepError && (error.details.detail ?? []).some((l) => l.startsWith(EDITS_MISMATCH));
    if (!mismatch || manifest.cmds === manifest.whole) throw error;
    stillWanted();
    await runStep(ctx, title, [...manifest.whole, ...rest]);
  }
}
