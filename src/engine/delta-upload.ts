import path from "node:path";
import type { SourceEntry } from "../plan/delta.js";
import { checkDelta, checkedListing, predictionExact } from "../plan/delta-check.js";
import type { Listing } from "../plan/manifest.js";
import type { DeltaBase, Transfer } from "../plan/steps.js";
import { type Cmd, shProgram } from "../shell/cmd.js";
import { type RunResult, type TransferStats, TransportError } from "../transport/executor.js";
import { type Ahead, buildInline, buildWithRsync, type Run } from "./delta-build.js";
import { decideOnce } from "./delta-decision.js";
import type { PreviousManifest } from "./manifest-write.js";
import { indexSource, mtimeOf } from "./source-index.js";
import { explainExit, StepError } from "./step-error.js";
import { runStep, type StepContext } from "./steps.js";

/**
 * The source's index, made once per run and shared by every host (undefined: not indexable);
 * `remember`: keep its hashes for the next run (not for a build directory made for this run only).
 */
export interface SourceIndex {
  (from: string, exclude: readonly string[], remember: boolean): Promise<SourceEntry[] | undefined>;
  /**
   * A host has its upload (or the prepare phase is over): the hashes kept for the next run are
   * written from now on, while the hosts work, not while the first upload is being made.
   */
  handedOver(): void;
}

/** A SourceIndex that indexes each (source, excludes) once, however many hosts ask. */
export function sourceIndexOnce(): SourceIndex {
  const made = new Map<string, Promise<SourceEntry[] | undefined>>();
  let handedOver: () => void = () => undefined;
  const handed = new Promise<void>((resolve) => {
    handedOver = resolve;
  });
  const index = (from: string, exclude: readonly string[], remember: boolean) => {
    const key = JSON.stringify([from, exclude]);
    let entries = made.get(key);
    if (!entries) {
      entries = indexSource(from, exclude, remember, handed).catch(() => undefined);
      made.set(key, entries);
    }
    return entries;
  };
  return Object.assign(index, { handedOver });
}

// Directory modes are set by then: a read-only one would stop rm. Only directories: the files are
// links to the previous release's, whose modes must not change.
const RESET = `set -e
find "$1" -type d -exec chmod u+rwx -- {} +
rm -rf -- "$1"
mkdir -- "$1"
`;

/**
 * The step that makes the (empty) release directory, put off by prepareHost to run first in the
 * build's first round trip: one round trip fewer. Until it has run, nothing there is this run's.
 */
export interface Creation {
  readonly title: string;
  readonly cmds: readonly Cmd[];
}

/**
 * Steps after the upload to run in its check's round trip, when the check passes there (one round
 * trip fewer): commands made from the listing the check will give if it passes, and the title
 * that names them in errors.
 */
export interface SealAhead {
  readonly title: string;
  cmds(predicted: Listing): readonly Cmd[];
}

/**
 * An upload's figures and, for a delta that passed its check, the release as the check listed it,
 * the previous release's manifest it was built from and what the steps run ahead printed.
 */
export interface UploadResult extends TransferStats {
  readonly checked?: Listing;
  readonly previousManifest?: PreviousManifest;
  readonly ahead?: string;
}

/**
 * Uploads the release as a delta against `base` (see plan/delta.ts), or the classic way (rsync
 * --link-dest) when the source cannot be indexed, the base's manifest is unknown or nothing can be
 * linked. When linking fails or the check of the result finds anything amiss, the host is in a
 * state cutover did not make (a replaced file, a directory turned into a link): the release
 * directory (this run's own, holding nothing else but what `sealAhead`'s commands made there) is
 * emptied and every file is sent, linking nothing, and a warning says why.
 */
export async function deltaUpload(
  ctx: StepContext,
  transfer: Transfer,
  base: DeltaBase,
  index: SourceIndex,
  remember: boolean,
  classicUpload: (transfer: Transfer) => Promise<TransferStats>,
  creation?: Creation,
  sealAhead?: SealAhead,
): Promise<UploadResult> {
  const first = firstRun(ctx, creation, index.handedOver);
  // The classic way: the creation, if still put off, in a round trip of its own.
  const classic = async (t: Transfer) => {
    if (first.pending()) await first.run([]);
    return classicUpload(t);
  };
  const source = await index(transfer.from, transfer.exclude, remember);
  const decided = source ? await decideOnce(ctx, base, source) : undefined;
  if (!source || !decided) return classic(transfer);
  const { text, previous, decision, sending, inline } = decided;
  if (decision.link.length === 0) return classic(transfer);

  const host = ctx.executor.host;
  const fallBack = async (why: string) => {
    ctx.emit({ type: "warning", host, message: `${why}; uploading every file, linking none` });
    if (!first.pending())
      await runStep(ctx, "empty the new release", [shProgram(RESET, [transfer.to], { label: "empty it" })]);
    return classic({ ...transfer, linkDest: [] });
  };
  const ahead: Ahead | undefined = sealAhead && {
    title: sealAhead.title,
    cmds: sealAhead.cmds(decided.predicted()),
  };
  const later: Run = (cmds, also) => runLost(ctx, cmds, also);
  const built = inline
    ? await buildInline(host, transfer, base, decision, sending, first.run, ahead)
    : await buildWithRsync(ctx, transfer, base, decision, first.run, later, ahead);
  if ("failed" in built) return fallBack(`cannot build the release from ${base.dir} (${built.failed})`);
  const { check } = built;
  const problems = checkDelta(check, source, decision.link, built.written, (p) =>
    mtimeOf(path.join(transfer.from, p)),
  );
  if (problems.length > 0) return fallBack(`the new release is not what the source has (${problems[0]})`);
  // The build is what the source has: a failure of the steps run after the check is theirs.
  if (built.aheadFailed) throw built.aheadFailed;
  return {
    files: source.length,
    filesTransferred: built.files,
    bytesTransferred: built.bytes,
    // The check found exactly the source: what was predicted is the listing (no second one made).
    checked:
      ahead && predictionExact(source) ? decided.predicted() : checkedListing(check, decision.link, previous),
    previousManifest: { file: base.manifest, text },
    ...(ahead ? { ahead: check.ahead } : {}),
  };
}

const CREATED = Buffer.from("@@created\0");
const created = shProgram("printf '@@created\\000'", [], { label: "the release directory is made" });

/**
 * The build's first round trip, with the creation (if put off) before it; `sent` is told once it
 * is on its way. A failure before the creation's end is that step's (the directory may not be
 * this run's: nothing is emptied); after it, the build's. `pending`: the creation has not run yet.
 * A lost connection names every step the round trip held (`also`: steps run ahead after the build's).
 */
function firstRun(
  ctx: StepContext,
  creation: Creation | undefined,
  sent: () => void,
): { run: Run; pending: () => boolean } {
  let pending = creation;
  const run: Run = async (cmds, also) => {
    if (!pending) return runLost(ctx, cmds, also);
    const { title, cmds: making } = pending;
    pending = undefined;
    const host = ctx.executor.host;
    const running = runLost(ctx, [...making, created, ...cmds], also, title);
    sent();
    const r = await running;
    if (!r.stdout.subarray(0, CREATED.length).equals(CREATED)) {
      const why = r.code === 0 ? "printed something else before its end" : explainExit(r.code);
      throw new StepError(host, title, why, r.stderr);
    }
    return { ...r, stdout: r.stdout.subarray(CREATED.length) };
  };
  return { run, pending: () => pending !== undefined };
}

/** A round trip of the upload; a lost connection names the steps before it and after it too. */
async function runLost(
  ctx: StepContext,
  cmds: readonly Cmd[],
  also: string | undefined,
  before?: string,
): Promise<RunResult> {
  try {
    return await ctx.executor.run(cmds);
  } catch (error) {
    // Which of them was running is not known.
    if (error instanceof TransportError && (before || also)) {
      const title = [before, "upload files", also].filter((t) => t !== undefined).join(", then ");
      throw new StepError(ctx.executor.host, title, error.message, error.stderr);
    }
    throw error;
  }
}
