import type { ResolvedStage } from "../config/resolve.js";
import { writeMeta } from "../plan/records.js";
import type { ReleaseMeta } from "../plan/release-meta.js";
import type { HostRun } from "../plan/run.js";
import type { Transfer } from "../plan/steps.js";
import { type Cmd, cmd } from "../shell/cmd.js";
import type { Executor, TransferStats } from "../transport/executor.js";
import { TransportError } from "../transport/executor.js";
import { type Creation, deltaUpload, type SourceIndex, type UploadResult } from "./delta-upload.js";
import type { Emit } from "./events.js";
import { withCommitDetails } from "./git-source.js";
import { runHookCmds } from "./host-hooks.js";
import { type ManifestWrite, manifestWrite, runWithManifest } from "./manifest-write.js";
import { smokeHttp, warmUp } from "./php-runtime.js";
import { sealAhead, sealRelease } from "./seal.js";
import { StepError } from "./step-error.js";
import { runStep, timed } from "./steps.js";
import { verifyUpload } from "./verify-upload.js";

/** How a run step that `warns` marks a warning line on its stdout. */
const WARNING = "cutover-warning: ";

export interface Prepared {
  readonly meta: ReleaseMeta;
  readonly upload: TransferStats | undefined;
}

/**
 * Builds the new release on one host: every step of the plan in order, then the manifest and
 * checksum, then the release is flushed to disk and marked ready. Only a ready release is ever
 * switched to.
 */
export async function prepareHost(
  plan: HostRun,
  stage: ResolvedStage,
  executor: Executor,
  emit: Emit,
  stopped: AbortSignal,
  index: SourceIndex,
  /** Told the metadata as it grows (the commit's details), so a failure later still records them. */
  learnt: (meta: ReleaseMeta) => void = () => undefined,
): Promise<Prepared> {
  const host = plan.host.name;
  const releaseId = plan.meta.id;
  const ctx = { executor, emit };
  const target = { host: plan.host, executor, layout: plan.layout };
  let meta = plan.meta;
  let upload: TransferStats | undefined;
  let checked: UploadResult["checked"];
  let previousManifest: UploadResult["previousManifest"];
  let pendingManifest: ManifestWrite | undefined;
  const check = () => {
    if (stopped.aborted)
      throw new StepError(host, "prepare", "stopped because the deploy failed elsewhere", "");
  };
  // After a delta upload whose seal lists only what changed, cutover's own commands right before
  // the seal (shared links, writable dirs) run in the seal's round trip; and when nothing else lies
  // between the upload and the seal, that round trip runs in the upload's, after its check.
  const steps = plan.prepare;
  const sealAt = steps.findIndex((s) => s.kind === "seal" && s.afterUpload !== undefined);
  const uploadAt = steps.findIndex((s) => s.kind === "transfer" && s.delta !== undefined);
  const carriedAt = (at: number) =>
    uploadAt < at && at < sealAt && steps.slice(at, sealAt).every((s) => s.kind === "run");
  const carried = { titles: [] as string[], cmds: [] as Cmd[] };
  for (const [at, step] of steps.entries())
    if (step.kind === "run" && carriedAt(at)) {
      carried.titles.push(step.title);
      carried.cmds.push(...step.cmds);
    }
  const seal = steps[sealAt];
  const onlyCarriedBetween =
    uploadAt >= 0 && steps.slice(uploadAt + 1, sealAt).every((s) => s.kind === "run");
  const ahead =
    seal?.kind === "seal" && onlyCarriedBetween ? sealAhead(target, releaseId, seal, carried) : undefined;
  let printedAhead: string | undefined;
  // The step that makes the release directory, right before a delta upload, runs in the upload's
  // first round trip.
  let creation: Creation | undefined;
  for (const [at, step] of steps.entries()) {
    check();
    if (step.kind === "run" && step.makesRelease && at === uploadAt - 1) {
      creation = { title: step.title, cmds: step.cmds };
      continue;
    }
    if (step.kind === "run" && carriedAt(at)) continue;
    await timed(emit, host, step.title, async () => {
      switch (step.kind) {
        case "run": {
          const { stdout } = await runStep(ctx, step.title, step.cmds);
          if (step.warns)
            for (const line of stdout.toString("utf8").split("\n"))
              if (line.startsWith(WARNING))
                emit({ type: "warning", host, message: line.slice(WARNING.length) });
          break;
        }
        case "hook":
          await runHookCmds(ctx, `${step.hook} hook`, step.cmds);
          break;
        case "transfer":
          try {
            const classic = (transfer: Transfer) =>
              executor.transfer(transfer, {
                onLine: (stream, line) => emit({ type: "output", host, stream, line }),
              });
            const stats: UploadResult = step.delta
              ? await deltaUpload(
                  ctx,
                  step.transfer,
                  step.delta,
                  index,
                  step.transfer.from === stage.source,
                  classic,
                  creation,
                  step.title === "upload files" ? ahead : undefined,
                )
              : await classic(step.transfer);
            if (step.title === "upload files")
              ({ checked, previousManifest, ahead: printedAhead, ...upload } = stats);
          } catch (error) {
            if (error instanceof TransportError)
              throw new StepError(host, step.title, error.message, error.stderr);
            throw error;
          }
          break;
        case "git-describe": {
          const { stdout } = await runStep(ctx, step.title, step.cmds);
          meta = { ...meta, revision: withCommitDetails(meta.revision, stdout.toString("utf8")) };
          learnt(meta);
          break;
        }
        case "verify-upload":
          await verifyUpload(ctx, step.title, plan.layout.release(releaseId), step.checksum);
          break;
        case "php-warmup":
          await warmUp(target, stage, releaseId, emit);
          break;
        case "smoke-http":
          await smokeHttp(target, stage, releaseId, emit);
          break;
        case "seal": {
          const { manifest, currentScan } = await sealRelease(
            target,
            stage,
            releaseId,
            step,
            checked,
            carried,
            printedAhead,
            emit,
          );
          if (currentScan) meta = { ...meta, current_scan: currentScan };
          meta = { ...meta, files: manifest.files, bytes: manifest.bytes, checksum: manifest.checksum };
          pendingManifest = manifestWrite(
            plan.layout.releaseManifest(releaseId),
            manifest,
            previousManifest,
            plan.layout.release(releaseId),
          );
          // Last step: the manifest goes with "mark ready" (one round trip less); else it is written now.
          if (step !== plan.prepare.at(-1)) {
            await runWithManifest(ctx, step.title, pendingManifest, writeMeta(plan.layout, meta), check);
            pendingManifest = undefined;
          }
          break;
        }
      }
    });
  }
  check();
  meta = { ...meta, state: "ready" };
  const rel = plan.layout.release(releaseId);
  const ready = [cmd(["sync", "-f", "--", rel]), ...writeMeta(plan.layout, meta)];
  await timed(emit, host, "mark ready", async () => {
    if (pendingManifest) await runWithManifest(ctx, "mark ready", pendingManifest, ready, check);
    else await runStep(ctx, "mark ready", ready);
  });
  return { meta, upload };
}
