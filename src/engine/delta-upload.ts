import { createHash } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  type DeltaDecision,
  dirModeCmds,
  inlineable,
  linkCmds,
  rsyncList,
  type SourceEntry,
  type Written,
  writeCmds,
} from "../plan/delta.js";
import { checkDelta, checkedListing, deltaCheckProbe, parseDeltaCheck } from "../plan/delta-check.js";
import type { Listing } from "../plan/manifest.js";
import type { DeltaBase, Transfer } from "../plan/steps.js";
import { type Cmd, shProgram } from "../shell/cmd.js";
import { type RunResult, type TransferStats, TransportError } from "../transport/executor.js";
import { decideOnce } from "./delta-decision.js";
import type { PreviousManifest } from "./manifest-write.js";
import { indexSource, mtimeOf } from "./source-index.js";
import { mtimeText } from "./source-list.js";
import { explainExit, StepError } from "./step-error.js";
import { runStep, type StepContext } from "./steps.js";

/**
 * The source's index, made once per run and shared by every host (undefined: not indexable);
 * `remember`: keep its hashes for the next run (not for a build directory made for this run only).
 */
export type SourceIndex = (
  from: string,
  exclude: readonly string[],
  remember: boolean,
) => Promise<SourceEntry[] | undefined>;

/** A SourceIndex that indexes each (source, excludes) once, however many hosts ask. */
export function sourceIndexOnce(): SourceIndex {
  const made = new Map<string, Promise<SourceEntry[] | undefined>>();
  return (from, exclude, remember) => {
    const key = JSON.stringify([from, exclude]);
    let index = made.get(key);
    if (!index) {
      index = indexSource(from, exclude, remember).catch(() => undefined);
      made.set(key, index);
    }
    return index;
  };
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
 * An upload's figures and, for a delta that passed its check, the release as the check listed it
 * and the previous release's manifest it was built from.
 */
export interface UploadResult extends TransferStats {
  readonly checked?: Listing;
  readonly previousManifest?: PreviousManifest;
}

/**
 * Uploads the release as a delta against `base` (see plan/delta.ts), or the classic way (rsync
 * --link-dest) when the source cannot be indexed, the base's manifest is unknown or nothing can be
 * linked. When linking fails or the check of the result finds anything amiss, the host is in a
 * state cutover did not make (a replaced file, a directory turned into a link): the release
 * directory (this run's own, holding nothing else yet) is emptied and every file is sent, linking
 * nothing, and a warning says why.
 */
export async function deltaUpload(
  ctx: StepContext,
  transfer: Transfer,
  base: DeltaBase,
  index: SourceIndex,
  remember: boolean,
  classicUpload: (transfer: Transfer) => Promise<TransferStats>,
  creation?: Creation,
): Promise<UploadResult> {
  const first = firstRun(ctx, creation);
  // The classic way: the creation, if still put off, in a round trip of its own.
  const classic = async (t: Transfer) => {
    if (first.pending()) await first.run([]);
    return classicUpload(t);
  };
  const source = await index(transfer.from, transfer.exclude, remember);
  const decided = source ? await decideOnce(ctx, base, source) : undefined;
  if (!source || !decided) return classic(transfer);
  const { text, previous, decision } = decided;
  if (decision.link.length === 0) return classic(transfer);

  const host = ctx.executor.host;
  const fallBack = async (why: string) => {
    ctx.emit({ type: "warning", host, message: `${why}; uploading every file, linking none` });
    if (!first.pending())
      await runStep(ctx, "empty the new release", [shProgram(RESET, [transfer.to], { label: "empty it" })]);
    return classic({ ...transfer, linkDest: [] });
  };
  const byPath = new Map(source.map((e) => [e.path, e]));
  const sending = decision.send.map((p) => byPath.get(p)!);
  const built = inlineable(decision, sending)
    ? await buildInline(transfer, base, decision, sending, first.run)
    : await buildWithRsync(ctx, transfer, base, decision, first.run);
  if ("failed" in built) return fallBack(`cannot build the release from ${base.dir} (${built.failed})`);
  const check = parseDeltaCheck(built.listing);
  const problems = checkDelta(check, source, decision.link, built.written, (p) =>
    mtimeOf(path.join(transfer.from, p)),
  );
  if (problems.length > 0) return fallBack(`the new release is not what the source has (${problems[0]})`);
  return {
    files: source.length,
    filesTransferred: built.files,
    bytesTransferred: built.bytes,
    checked: checkedListing(check, decision.link, previous),
    previousManifest: { file: base.manifest, text },
  };
}

type Built =
  | {
      readonly listing: string;
      readonly written: readonly string[];
      readonly files: number;
      readonly bytes: number;
    }
  | { readonly failed: string };

const firstLine = (stderr: string) => stderr.trim().split("\n")[0] ?? "";

const CREATED = Buffer.from("@@created\0");
const created = shProgram("printf '@@created\\000'", [], { label: "the release directory is made" });

type Run = (cmds: readonly Cmd[]) => Promise<RunResult>;

/**
 * The build's first round trip, with the creation (if put off) before it. A failure before the
 * creation's end is that step's (the directory may not be this run's: nothing is emptied); after
 * it, the build's. `pending`: the creation has not run yet.
 */
function firstRun(ctx: StepContext, creation: Creation | undefined): { run: Run; pending: () => boolean } {
  let pending = creation;
  const run: Run = async (cmds) => {
    if (!pending) return ctx.executor.run(cmds);
    const { title, cmds: making } = pending;
    pending = undefined;
    const host = ctx.executor.host;
    let r: RunResult;
    try {
      r = await ctx.executor.run([...making, created, ...cmds]);
    } catch (error) {
      // A lost connection: which of the two was running is not known.
      if (error instanceof TransportError)
        throw new StepError(host, `${title}, then upload files`, error.message, error.stderr);
      throw error;
    }
    if (!r.stdout.subarray(0, CREATED.length).equals(CREATED)) {
      const why = r.code === 0 ? "printed something else before its end" : explainExit(r.code);
      throw new StepError(host, title, why, r.stderr);
    }
    return { ...r, stdout: r.stdout.subarray(CREATED.length) };
  };
  return { run, pending: () => pending !== undefined };
}

/** A source file's content and mtime for writing inline, if it is still the regular file the index saw. */
function readIndexed(from: string, e: SourceEntry): { data: Buffer; mtime: string } | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path.join(from, e.path), constants.O_RDONLY | constants.O_NOFOLLOW);
    const st = fstatSync(fd, { bigint: true });
    const mtime = mtimeText(st.mtimeNs);
    if (!st.isFile() || Number(st.size) !== e.size || mtime !== e.mtime) return undefined;
    const data = readFileSync(fd);
    if (createHash("sha256").update(data).digest("hex") !== e.hash) return undefined;
    return { data, mtime };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A small change: directories, links, the changed files, modes and the check in one round trip. */
async function buildInline(
  transfer: Transfer,
  base: DeltaBase,
  decision: DeltaDecision,
  sending: readonly SourceEntry[],
  first: Run,
): Promise<Built> {
  const written: Written[] = [];
  for (const e of sending) {
    if (e.type === "l") {
      written.push({ type: "l", path: e.path, link: e.link ?? "" });
      continue;
    }
    const read = readIndexed(transfer.from, e);
    if (!read) return { failed: `${e.path} changed in the source during the deploy` };
    written.push({
      type: "f",
      path: e.path,
      mode: e.mode,
      mtime: read.mtime,
      base64: read.data.toString("base64"),
    });
  }
  const files = sending.filter((e) => e.type === "f").map((e) => e.path);
  const r = await first([
    ...linkCmds(base.dir, transfer.to, decision),
    ...writeCmds(transfer.to, written),
    ...dirModeCmds(transfer.to, decision),
    deltaCheckProbe(transfer.to, base, files),
  ]);
  if (r.code !== 0) return { failed: firstLine(r.stderr) };
  return {
    listing: r.stdout.toString("utf8"),
    written: files,
    files: files.length,
    bytes: sending.reduce((n, e) => n + (e.type === "f" ? e.size : 0), 0),
  };
}

/** A larger change: directories and links, then rsync of the rest, then modes and the check. */
async function buildWithRsync(
  ctx: StepContext,
  transfer: Transfer,
  base: DeltaBase,
  decision: DeltaDecision,
  first: Run,
): Promise<Built> {
  const linked = await first(linkCmds(base.dir, transfer.to, decision));
  if (linked.code !== 0) return { failed: firstLine(linked.stderr) };
  // An rsync that fails (a lost connection, a full disk) fails the upload, as any upload's would.
  const list = rsyncList(decision);
  const sent = list.length > 0 ? await sendListed(ctx, transfer, list) : undefined;
  const checked = await ctx.executor.run([
    ...dirModeCmds(transfer.to, decision),
    deltaCheckProbe(transfer.to, base),
  ]);
  if (checked.code !== 0) return { failed: firstLine(checked.stderr) };
  return {
    listing: checked.stdout.toString("utf8"),
    written: [],
    files: sent?.filesTransferred ?? 0,
    bytes: sent?.bytesTransferred ?? 0,
  };
}

/** rsync of exactly these entries (their directories exist already), from a list file of our own. */
async function sendListed(
  ctx: StepContext,
  transfer: Transfer,
  names: readonly string[],
): Promise<TransferStats> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), "cutover-send-"));
  try {
    const list = path.join(scratch, "files");
    writeFileSync(list, `${names.join("\0")}\0`);
    return await ctx.executor.transfer({ ...transfer, linkDest: [], filesFrom: list });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
