import type { ResolvedStage } from "../config/resolve.js";
import { buildManifest, type Listing, type Manifest } from "../plan/manifest.js";
import type { CurrentScan } from "../plan/release-meta.js";
import type { Step } from "../plan/steps.js";
import type { Cmd } from "../shell/cmd.js";
import { currentScanCmds, currentScanFindings, scanCurrentPaths } from "./current-paths.js";
import type { Emit } from "./events.js";
import { listRelease, relistAfterUpload } from "./list-release.js";
import { rememberManifest } from "./manifest-cache.js";
import type { Host } from "./php-runtime.js";
import { runStep } from "./steps.js";

type SealStep = Extract<Step, { kind: "seal" }>;

/**
 * A release's manifest and the findings of its scan for paths through current. After a checked
 * delta upload with only cutover's own changes since, the relist, the hashes of sent files and
 * the scan share one round trip; otherwise (or when a linked file was edited since the check)
 * the release is listed whole, then scanned.
 */
export async function sealRelease(
  t: Host,
  stage: ResolvedStage,
  releaseId: string,
  step: SealStep,
  checked: Listing | undefined,
  /** Steps put off to run first, in the seal's round trip (their titles name it in errors). */
  carried: { readonly titles: readonly string[]; readonly cmds: readonly Cmd[] },
  emit: Emit,
): Promise<{ manifest: Manifest; currentScan: CurrentScan | undefined }> {
  const ctx = { executor: t.executor, emit };
  const title = [...carried.titles, step.title].join(", ");
  const rel = t.layout.release(releaseId);
  const previousScan = step.reuse?.currentScan;
  let listing: Listing | undefined;
  let currentScan: CurrentScan | undefined;
  let carriedRan = false;
  if (step.afterUpload && checked && step.reuse) {
    const scan = currentScanCmds(t, releaseId, checked, previousScan);
    const relisted = await relistAfterUpload(
      ctx,
      title,
      rel,
      step.reuse.manifest,
      checked,
      step.afterUpload,
      carried.cmds,
      scan.cmds,
    );
    carriedRan = true;
    // A linked file edited meanwhile (in the live release, which shares it): listed and scanned whole.
    if (relisted.edited.length === 0) {
      listing = relisted.listing;
      currentScan = currentScanFindings(t, stage, scan.needle, relisted.also, emit);
    }
  }
  if (!listing) {
    if (!carriedRan && carried.cmds.length > 0) await runStep(ctx, title, carried.cmds);
    listing = await listRelease(ctx, step.title, rel, step.reuse);
    currentScan = await scanCurrentPaths(t, stage, releaseId, listing, previousScan, emit);
  }
  const manifest = buildManifest(
    listing,
    stage.writableDirs.map((w) => w.path),
  );
  rememberManifest(manifest.text, manifest.checksum);
  return { manifest, currentScan };
}
