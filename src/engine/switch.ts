import type { ResolvedStage } from "../config/resolve.js";
import type { InPlaceWindow } from "../plan/in-place-window.js";
import { currentTarget, layout } from "../plan/layout.js";
import { cmd } from "../shell/cmd.js";
import type { TransferStats } from "../transport/executor.js";
import type { Emit } from "./events.js";
import type { Unit } from "./finalize.js";
import { uploadLive } from "./in-place-switch.js";
import type { HostOutcome } from "./outcome.js";
import { resetAndVerify } from "./php-runtime.js";
import { runStep, timed } from "./steps.js";

export interface SwitchOutcome {
  readonly unit: Unit;
  readonly ok: boolean;
  /** When the rename happened, by the host's clock (ms). */
  readonly at: number;
  readonly error?: Error;
  /** strategy: in-place: when files of both builds were live side by side (undefined: nothing changed). */
  readonly window?: InPlaceWindow;
  /** strategy: in-place: what the upload (the switch) transferred. */
  readonly upload?: TransferStats;
}

async function switchOne(u: Unit, emit: Emit): Promise<SwitchOutcome> {
  if (u.run.inPlace) {
    try {
      const { window, stats } = await uploadLive(
        u,
        u.run.inPlace.upload,
        "upload into the live directory",
        emit,
      );
      return { unit: u, ok: true, at: window?.endMs ?? Date.now(), window, upload: stats };
    } catch (error) {
      return { unit: u, ok: false, at: Date.now(), error: error as Error };
    }
  }
  try {
    const { stdout } = await timed(emit, u.t.host.name, "switch current", () =>
      runStep({ executor: u.t.executor, emit }, "switch current", [u.run.switchTo]),
    );
    const ns = Number(stdout.toString().trim().split("\n").at(-1));
    return { unit: u, ok: true, at: Number.isFinite(ns) && ns > 0 ? ns / 1e6 : Date.now() };
  } catch (error) {
    return { unit: u, ok: false, at: Date.now(), error: error as Error };
  }
}

/**
 * The hosts that switched, or may have: a switch step that failed or was stopped (a signal kills
 * it, say in its fsync) after its rename leaves `current` on the new release. Such a host's link
 * is read; when it points at `release`, or cannot be read, the host counts as switched, since its
 * undo puts back exactly what was there and is harmless where nothing changed.
 */
export async function addSwitched(
  done: readonly SwitchOutcome[],
  release: string,
  switched: Set<Unit>,
): Promise<void> {
  await Promise.all(
    done.map(async (o) => {
      if (o.ok || o.unit.run.inPlace || (await mayPointAt(o.unit, release))) switched.add(o.unit);
    }),
  );
}

async function mayPointAt(u: Unit, release: string): Promise<boolean> {
  const read = await u.t.executor
    .run([cmd(["readlink", "--", layout(u.t.host.path).current], { mayFail: true, quiet: true })])
    .catch(() => undefined);
  if (!read) return true;
  return read.stdout.toString("utf8").replace(/\n$/, "") === currentTarget(release);
}

/** Switches hosts at once over the already-open sessions; reports each host's outcome. */
export function switchAll(units: readonly Unit[], emit: Emit): Promise<SwitchOutcome[]> {
  return Promise.all(units.map((u) => switchOne(u, emit)));
}

/**
 * The one undo of a switch, for deploy and rollback alike: `current` exactly as it was on every
 * host that switched, then that release's PHP caches reset and verified like after any switch.
 * Reports what each host serves now.
 */
export async function switchBackAll(
  units: readonly Unit[],
  switched: ReadonlySet<Unit>,
  release: string,
  stage: ResolvedStage,
  emit: Emit,
): Promise<HostOutcome[]> {
  emit({ type: "phase", phase: "switching back the hosts that switched" });
  return Promise.all(
    units.map(async (u): Promise<HostOutcome> => {
      const previous = u.run.previous ?? null;
      if (!switched.has(u)) return { host: u.t.host.name, state: "unchanged", serving: previous };
      try {
        const undo = u.run.inPlace && (u.run.inPlace.undo ?? noBuildToRestore(previous));
        if (undo) await uploadLive(u, undo, "upload the previous build again", emit);
        else
          await timed(emit, u.t.host.name, "switch back", () =>
            runStep({ executor: u.t.executor, emit }, "switch back", [u.run.switchBack]),
          );
      } catch (error) {
        emit({
          type: "warning",
          host: u.t.host.name,
          message: `could not switch back: ${(error as Error).message}`,
        });
        return { host: u.t.host.name, state: "switched-back", serving: release };
      }
      if (previous) {
        await resetAndVerify(u.t, stage, previous, emit).catch((e: Error) =>
          emit({ type: "warning", host: u.t.host.name, message: e.message }),
        );
      }
      return { host: u.t.host.name, state: "switched-back", serving: previous };
    }),
  );
}

function noBuildToRestore(previous: string | null): never {
  throw new Error(
    previous
      ? `the build of ${previous} is not kept on this machine, so it cannot be uploaded again`
      : "nothing was live before (first in-place deploy), so there is no build to upload again",
  );
}

export function skewMs(outcomes: readonly SwitchOutcome[]): number {
  const times = outcomes.filter((o) => o.ok).map((o) => o.at);
  return times.length > 1 ? Math.round((Math.max(...times) - Math.min(...times)) * 10) / 10 : 0;
}
