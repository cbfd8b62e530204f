import { createHash } from "node:crypto";
import { closeSync, constants, fstatSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  type DeltaDecision,
  dirModeCmds,
  linkCmds,
  rsyncList,
  type SourceEntry,
  type Written,
  writeCmds,
} from "../plan/delta.js";
import { aheadMarker, type DeltaCheck, deltaCheckProbe, parseDeltaCheck } from "../plan/delta-check.js";
import type { DeltaBase, Transfer } from "../plan/steps.js";
import type { Cmd } from "../shell/cmd.js";
import type { RunResult, TransferStats } from "../transport/executor.js";
import { makeRunDir } from "./run-dirs.js";
import { mtimeText } from "./source-list.js";
import { explainExit, StepError } from "./step-error.js";
import type { StepContext } from "./steps.js";

/** Runs a round trip of the build; `also`: the title of steps run ahead in it (named if it is lost). */
export type Run = (cmds: readonly Cmd[], also?: string) => Promise<RunResult>;

/**
 * Commands to run right after the check, in its round trip (cutover's own steps before the seal and
 * the seal's listing), and the title their failure is reported under.
 */
export interface Ahead {
  readonly title: string;
  readonly cmds: readonly Cmd[];
}

export type Built =
  | {
      readonly check: DeltaCheck;
      readonly written: readonly string[];
      readonly files: number;
      readonly bytes: number;
      /** The steps run ahead failed after the check: theirs, unless the check finds the build amiss. */
      readonly aheadFailed?: StepError;
    }
  | { readonly failed: string };

const firstLine = (stderr: string) => stderr.trim().split("\n")[0] ?? "";

/**
 * The check round trip's outcome: its listing, or why the build failed. A failure after the check
 * is `ahead`'s (`aheadFailed`), but only once the check has passed: those steps ran on a release
 * not yet checked, and one the check finds amiss (the source changed during the deploy, a previous
 * release in a state cutover did not make) may fail them, which the fallback mends as before.
 */
async function checkRun(
  host: string,
  run: Run,
  cmds: readonly Cmd[],
  ahead: Ahead | undefined,
): Promise<{ check: DeltaCheck; aheadFailed?: StepError } | { failed: string }> {
  const r = await run(ahead ? [...cmds, aheadMarker, ...ahead.cmds] : cmds, ahead?.title);
  const check = parseDeltaCheck(r.stdout.toString("utf8"));
  if (ahead && check.ahead !== undefined && r.code !== 0)
    return { check, aheadFailed: new StepError(host, ahead.title, explainExit(r.code), r.stderr) };
  if (r.code !== 0) return { failed: firstLine(r.stderr) };
  // Ran, but its output lost the marker: what ran ahead is not known to have run (the seal's own
  // round trip would run it again), so the release is built anew.
  if (ahead && check.ahead === undefined) return { failed: "the check's output is cut short" };
  return { check };
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
export async function buildInline(
  host: string,
  transfer: Transfer,
  base: DeltaBase,
  decision: DeltaDecision,
  sending: readonly SourceEntry[],
  first: Run,
  ahead: Ahead | undefined,
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
  const outcome = await checkRun(
    host,
    first,
    [
      ...linkCmds(base.dir, transfer.to, decision),
      ...writeCmds(transfer.to, written),
      ...dirModeCmds(transfer.to, decision),
      deltaCheckProbe(transfer.to, base, files),
    ],
    ahead,
  );
  if ("failed" in outcome) return outcome;
  return {
    check: outcome.check,
    ...(outcome.aheadFailed ? { aheadFailed: outcome.aheadFailed } : {}),
    written: files,
    files: files.length,
    bytes: sending.reduce((n, e) => n + (e.type === "f" ? e.size : 0), 0),
  };
}

/** A larger change: directories and links, then rsync of the rest, then modes and the check. */
export async function buildWithRsync(
  ctx: StepContext,
  transfer: Transfer,
  base: DeltaBase,
  decision: DeltaDecision,
  first: Run,
  later: Run,
  ahead: Ahead | undefined,
): Promise<Built> {
  const linked = await first(linkCmds(base.dir, transfer.to, decision));
  if (linked.code !== 0) return { failed: firstLine(linked.stderr) };
  // An rsync that fails (a lost connection, a full disk) fails the upload, as any upload's would.
  const list = rsyncList(decision);
  const sent = list.length > 0 ? await sendListed(ctx, transfer, list) : undefined;
  const outcome = await checkRun(
    ctx.executor.host,
    later,
    [...dirModeCmds(transfer.to, decision), deltaCheckProbe(transfer.to, base)],
    ahead,
  );
  if ("failed" in outcome) return outcome;
  return {
    check: outcome.check,
    ...(outcome.aheadFailed ? { aheadFailed: outcome.aheadFailed } : {}),
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
  const scratch = makeRunDir("send");
  try {
    const list = path.join(scratch, "files");
    writeFileSync(list, `${names.join("\0")}\0`);
    return await ctx.executor.transfer({ ...transfer, linkDest: [], filesFrom: list });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
