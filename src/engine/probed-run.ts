import { Probe, probeClock } from "../probe/probe.js";
import { judge, type ProbeReport } from "../probe/report.js";
import type { Emit, EngineEvent } from "./events.js";

/** `deploy --probe`: load runs through the deploy; the switch window is read from the engine's events. */
export class ProbedRun {
  private readonly probe: Probe;
  private switchStart = Number.POSITIVE_INFINITY;
  private switchEnd = 0;
  readonly emit: Emit;

  constructor(url: string, concurrency: number, downstream: Emit) {
    this.probe = new Probe({ url, concurrency });
    this.emit = (event: EngineEvent) => {
      if (event.type === "step" && event.step === "switch current") {
        if (event.status === "start") this.switchStart = Math.min(this.switchStart, probeClock());
        else this.switchEnd = Math.max(this.switchEnd, probeClock());
      }
      downstream(event);
    };
  }

  start(): void {
    this.probe.start();
  }

  /** Keeps the load on for a second after the deploy, then judges every request; without a release, just stops. */
  async finish(release: string | undefined): Promise<ProbeReport> {
    if (release !== undefined) await new Promise((r) => setTimeout(r, 1000));
    const samples = await this.probe.stop();
    const end = this.switchEnd || probeClock();
    return judge(samples, release ?? "", Math.min(this.switchStart, end), end);
  }
}

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
