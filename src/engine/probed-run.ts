import type { ProbeReport } from "../probe/report.js";
import type { Emit } from "./events.js";

/**
 * Runs `work` under HTTP load when a probe is asked for, and always stops the load, also when the
 * work throws (lock held, plan refused): a probe must never outlive its deploy.
 */
export async function withProbe<R extends { release: string }>(
  probe: { readonly url: string; readonly concurrency: number } | undefined,
  emit: Emit,
  work: (emit: Emit) => Promise<R>,
): Promise<R & { probe?: ProbeReport }> {
  if (!probe) return work(emit);
  // Loaded only for --probe: it brings Node's http and tls, which a deploy without it never needs.
  const { ProbedRun } = await import("./probe-during-run.js");
  const run = new ProbedRun(probe.url, probe.concurrency, emit);
  run.start();
  let result: R;
  try {
    result = await work(run.emit);
  } catch (error) {
    await run.finish(undefined);
    throw error;
  }
  return { ...result, probe: await run.finish(result.release) };
}
