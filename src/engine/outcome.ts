import { CutoverError, EXIT, type ExitCode } from "../errors.js";
import type { InPlaceWindow } from "../plan/in-place-window.js";
import type { Leftovers } from "../plan/reconcile.js";
import type { TransferStats } from "../transport/executor.js";
import { type SwitchOutcome, skewMs } from "./switch.js";

export interface HostOutcome {
  readonly host: string;
  /** live: serves the new release; unchanged: never switched; switched-back: switched, then undone. */
  readonly state: "live" | "unchanged" | "switched-back";
  /** The release `current` points to now (null: no current link). */
  readonly serving: string | null;
  readonly upload?: TransferStats;
  /** strategy: in-place: when files of two builds were live side by side on this host (null: nothing changed; absent: the upload failed, not measured). */
  readonly mixedWindow?: InPlaceWindow | null;
}

export interface DeployResult {
  readonly ok: boolean;
  readonly exitCode: ExitCode;
  readonly release: string;
  readonly stage: string;
  readonly who: string;
  /** What the (first) host served before. */
  readonly previous: string | null;
  /** The source's git commit (+dirty), when it is a git checkout. */
  readonly revision: string | null;
  readonly durationMs: number;
  readonly hosts: readonly HostOutcome[];
  readonly filesTransferred: number;
  readonly bytesTransferred: number;
  readonly switchSkewMs: number;
  readonly warnings: readonly string[];
  readonly error?: { readonly message: string; readonly detail: readonly string[]; readonly fix?: string };
}

/** The warning for what an interrupted earlier run left (empty when nothing). */
export function describeLeftovers(l: Leftovers): string {
  const parts: string[] = [];
  if (l.incomplete.length > 0)
    parts.push(`removing incomplete release${l.incomplete.length > 1 ? "s" : ""} ${l.incomplete.join(", ")}`);
  if (l.orphanMetas.length > 0)
    parts.push(
      `removing metadata of missing release${l.orphanMetas.length > 1 ? "s" : ""} ${l.orphanMetas.join(", ")}`,
    );
  for (const fix of l.fixes) parts.push(`marking ${fix.id} ${fix.state}`);
  if (l.tmp.length > 0) parts.push(`removing temporary ${l.tmp.join(", ")}`);
  if (l.clockProbes.length > 0)
    parts.push(`removing its clock probe releases/${l.clockProbes.join(", releases/")}`);
  return parts.length > 0 ? `an earlier run was interrupted: ${parts.join("; ")}` : "";
}

/** Interrupted runs exit 130; every other failure 1. */
export function exitFor(error: Error): ExitCode {
  return error instanceof CutoverError && error.details.exitCode === EXIT.interrupted
    ? EXIT.interrupted
    : EXIT.failed;
}

/** The result of a run from its parts. */
export function finish(
  base: {
    release: string;
    stage: string;
    who: string;
    started: Date;
    previous: string | null;
    revision: string | null;
  },
  hosts: HostOutcome[],
  outcomes: readonly SwitchOutcome[],
  error: Error | undefined,
  exitCode: ExitCode,
): DeployResult {
  const all = hosts.map((h) => withWindow(h, outcomes));
  const uploads = all.map((h) => h.upload).filter((u): u is TransferStats => u !== undefined);
  return {
    ok: error === undefined,
    exitCode,
    release: base.release,
    stage: base.stage,
    who: base.who,
    previous: base.previous,
    revision: base.revision,
    durationMs: Date.now() - base.started.getTime(),
    hosts: all,
    filesTransferred: uploads.reduce((n, u) => n + u.filesTransferred, 0),
    bytesTransferred: uploads.reduce((n, u) => n + u.bytesTransferred, 0),
    switchSkewMs: skewMs(outcomes),
    warnings: [],
    error: error
      ? {
          message: error.message,
          detail: error instanceof CutoverError ? [...(error.details.detail ?? [])] : [],
          fix: error instanceof CutoverError ? error.details.fix : undefined,
        }
      : undefined,
  };
}

/**
 * An in-place host's measured window and upload, from its switch outcome. A failed upload has no
 * window: what it renamed into place before it stopped was not measured (null says nothing changed).
 */
function withWindow(h: HostOutcome, outcomes: readonly SwitchOutcome[]): HostOutcome {
  const o = outcomes.find((x) => x.unit.t.host.name === h.host);
  if (!o?.unit.run.inPlace) return h;
  return { ...h, upload: h.upload ?? o.upload, ...(o.ok ? { mixedWindow: o.window ?? null } : {}) };
}
