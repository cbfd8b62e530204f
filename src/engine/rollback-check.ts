import { CutoverError, EXIT } from "../errors.js";
import type { ReleaseDiff } from "../plan/diff.js";
import type { RunPlan } from "../plan/run.js";
import type { Emit } from "./events.js";
import { onEveryHost } from "./every-host.js";
import type { Unit } from "./finalize.js";
import { changeLines, checkRelease, type ReleaseCheck, summarizeChanges } from "./release-check.js";
import { plural } from "./run-parts.js";
import { timed } from "./steps.js";

/** Changes that break a release: what it serves is no longer what was deployed and checked. */
const BREAKING: readonly (keyof ReleaseDiff)[] = ["modified", "removed", "mode", "symlink"];

/**
 * A rollback's check phase: on every host, the release it switches to is compared with its
 * manifest before anything switches. Its files are hard links shared with newer releases, so an
 * edit in place of the live one's file (or a removal) changed it too, and switching to it would
 * serve what was never deployed. Files added to it (an app writing into its release) only warn.
 * Every host that differs is named; none switches.
 */
export async function checkPhase(
  units: readonly Unit[],
  plan: RunPlan,
  emit: Emit,
): Promise<Error | undefined> {
  emit({ type: "phase", phase: `check release ${plan.release} on ${plural(units.length, "host")}` });
  const excluded = plan.stage.writableDirs.map((w) => w.path);
  return onEveryHost(units, async (u) => {
    const host = u.t.host.name;
    const check = await timed(emit, host, "check release files", () =>
      checkRelease({ executor: u.t.executor, emit }, u.t.layout, u.run.meta, excluded, true),
    );
    judge(host, plan.release, check, excluded, emit);
  }).then(
    () => undefined,
    (error: Error) => error,
  );
}

/** What stops a rollback to a release as `check` found it: a one-line reason with its lines, or none. */
export function breaking(
  check: ReleaseCheck,
  excluded: readonly string[],
): { readonly summary: string; readonly lines: readonly string[] } | undefined {
  if (check.kind !== "differs") return undefined;
  if (!check.changes) return { summary: check.why ?? "its files differ", lines: [] };
  const changes = withoutExcluded(check.changes, excluded);
  if (BREAKING.every((k) => changes[k].length === 0)) return undefined;
  return { summary: summarizeChanges(changes, BREAKING), lines: changeLines(changes, BREAKING) };
}

function judge(host: string, id: string, check: ReleaseCheck, excluded: readonly string[], emit: Emit): void {
  if (check.kind === "unrecorded")
    emit({
      type: "warning",
      host,
      message: `release ${id} has no recorded checksum (adopted): its files were not checked`,
    });
  const stop = breaking(check, excluded);
  if (stop)
    throw new CutoverError("rollback", `${host}: release ${id} is not as it was deployed: ${stop.summary}`, {
      state: "nothing was switched",
      fix: "a file it shares with a newer release through a hard link was edited in place, or removed: roll back to another release with --to ID, deploy the version you need, or pass --no-verify to switch to it as it is",
      detail: stop.lines,
      exitCode: EXIT.failed,
    });
  if (check.kind === "differs" && check.changes?.added.length)
    emit({
      type: "warning",
      host,
      message: `release ${id} holds files its manifest does not list: ${summarizeChanges(check.changes, ["added"])}`,
    });
}

/**
 * A writable dir the config names now may not have been one when the release was deployed: its
 * files are recorded, but not listed now. Their absence says nothing.
 */
function withoutExcluded(changes: ReleaseDiff, excluded: readonly string[]): ReleaseDiff {
  const inside = (p: string) => excluded.some((x) => p.startsWith(`${x}/`));
  return { ...changes, removed: changes.removed.filter((p) => !inside(p)) };
}
