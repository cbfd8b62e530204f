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
