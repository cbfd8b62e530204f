import { type InPlaceWindow, parseWindow } from "../plan/in-place-window.js";
import type { Transfer } from "../plan/steps.js";
import { type TransferStats, TransportError } from "../transport/executor.js";
import type { Emit } from "./events.js";
import type { Unit } from "./finalize.js";
import { StepError } from "./step-error.js";
import { runStep, timed } from "./steps.js";

/**
 * One in-place switch (or its undo): mark the host's time, upload with --delay-updates into the
 * live directory, then measure from the change times what was renamed into place and when: the
 * window in which a request could see files of both builds.
 */
export async function uploadLive(
  u: Unit,
  transfer: Transfer,
  title: string,
  emit: Emit,
): Promise<{ window: InPlaceWindow | undefined; stats: TransferStats }> {
  const plan = u.run.inPlace!;
  const host = u.t.host.name;
  const ctx = { executor: u.t.executor, emit };
  return timed(emit, host, title, async () => {
    await runStep(ctx, title, [u.run.switchTo]);
    let stats: TransferStats;
    try {
      stats = await u.t.executor.transfer(transfer, {
        onLine: (stream, line) => emit({ type: "output", host, stream, line }),
      });
    } catch (error) {
      if (error instanceof TransportError) throw new StepError(host, title, error.message, error.stderr);
      throw error;
    }
    const { stdout } = await runStep(ctx, "measure the mixed window", [plan.measure]);
    return { window: parseWindow(stdout.toString(), plan.untouched), stats };
  });
}
