import type { ResolvedStage } from "../config/resolve.js";
import { buildManifest, type Listing, type Manifest } from "../plan/manifest.js";
import type { CurrentScan } from "../plan/release-meta.js";
import type { Step } from "../plan/steps.js";
import type { Cmd } from "../shell/cmd.js";
import {
  currentNeedle,
  currentScanCmds,
  currentScanFindings,
  scanCurrentPaths,
  wholeScanCmds,
} from "./current-paths.js";
import type { SealAhead } from "./delta-upload.js";
import type { Emit } from "./events.js";
import { listReleaseAfter, readRelisted, relistCmds } from "./list-release.js";
import { rememberManifest } from "./manifest-cache.js";
import type { Host } from "./php-runtime.js";
import { runStep } from "./steps.js";

type SealStep = Extract<Step, { kind: "seal" }>;

/** Steps put off to run first in the seal's round trip (their titles name it in errors). */
export interface Carried {
  readonly titles: readonly string[];
  readonly cmds: readonly Cmd[];
}

const sealTitle = (step: SealStep, carried: Carried) => [...carried.titles, step.title].join(", ");

/**
 * The seal's round trip after a checked delta upload, to run in the upload's own round trip right
 * after its check (see deltaUpload): `predicted` is the listing the check will give if it passes.
 * Undefined when the seal would list the release whole.
 */
export function sealAhead(
  t: Host,
  releaseId: string,
  step: SealStep,
  carried: Carried,
): SealAhead | undefined {
  const { afterUpload, reuse } = step;
  if (!afterUpload || !reuse) return undefined;
  return {
    title: sealTitle(step, carried),
    cmds: (predicted) => {
      const scan = currentScanCmds(t, releaseId, predicted, reuse.currentScan);
      const rel = t.layout.release(releaseId);
      return relistCmds(rel, reuse.manifest, predicted, afterUpload, carried.cmds, scan.cmds);
    },
  };
}

/**
 * A release's manifest and the findings of its scan for paths through current. After a checked
 * delta upload with only cutover's own changes since, the relist, the hashes of sent files and
 * the scan share one round trip (the upload's own, when `printedAhead` holds what they printed there);
 * otherwise (or when a linked file was edited since the check) the release is listed whole, then
 * scanned.
 */
export async function sealRelease(
  t: Host,
  stage: ResolvedStage,
  releaseId: string,
  step: SealStep,
  checked: Listing | undefined,
  carried: Carried,
  /** What sealAhead's commands printed in the upload's round trip, if they ran there. */
  printedAhead: string | undefined,
  emit: Emit,
): Promise<{ manifest: Manifest; currentScan: CurrentScan | undefined }> {
  const ctx = { executor: t.executor, emit };
  const title = sealTitle(step, carried);
  const rel = t.layout.release(releaseId);
  const previousScan = step.reuse?.currentScan;
  let listing: Listing | undefined;
  let currentScan: CurrentScan | undefined;
  let carriedRan = false;
  const relist = sealAhead(t, releaseId, step, carried);
  if (relist && step.afterUpload && checked) {
    const output = printedAhead ?? (await runStep(ctx, title, relist.cmds(checked))).stdout.toString("utf8");
    const relisted = await readRelisted(ctx, title, rel, checked, step.afterUpload, output);
    carriedRan = true;
    // A linked file edited meanwhile (in the live release, which shares it): listed and scanned whole.
    if (relisted.edited.length === 0) {
      listing = relisted.listing;
      currentScan = currentScanFindings(t, stage, currentNeedle(t), relisted.also, emit);
    }
  }
  if (!listing) {
    const first = carriedRan ? [] : carried.cmds;
    // A scan that reads every file needs no listing: it runs in the listing's round trip, first.
    const scan = wholeScanCmds(t, releaseId, previousScan);
    const before = [...first, ...(scan ?? [])];
    const listed = await listReleaseAfter(
      ctx,
      first.length > 0 ? title : step.title,
      rel,
      before,
      step.reuse,
      true,
    );
    listing = listed.listing;
    currentScan = scan
      ? currentScanFindings(t, stage, currentNeedle(t), listed.printed, emit)
      : await scanCurrentPaths(t, stage, releaseId, listing, previousScan, emit);
  }
  const manifest = buildManifest(
    listing,
    stage.writableDirs.map((w) => w.path),
  );
  // Written while the host works on the next step (~500 KB for 5,000 files), not before it is sent.
  setImmediate(() => rememberManifest(manifest.text, manifest.checksum));
  return { manifest, currentScan };
}
