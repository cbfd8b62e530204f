import type { Emit, EngineEvent } from "../engine/events.js";
import { table } from "./render.js";

/** `--timings` as data: the run's phases in order, and every step of every host. */
export interface TimingsReport {
  readonly total_ms: number;
  readonly phases: readonly { readonly phase: string; readonly ms: number }[];
  readonly steps: readonly {
    readonly host: string;
    readonly step: string;
    readonly ms: number;
    readonly ok: boolean;
  }[];
}

/** What happens before the engine announces its first phase: connections, locks, reading the hosts. */
export const BEFORE_FIRST_PHASE = "connect, lock and read hosts";
/** From the process's start to the command's: Node, loading cutover, reading the config. */
export const START_UP = "start: node, cutover, config";

/**
 * Watches the engine's events on their way to the renderer and keeps where the time went: a phase
 * lasts until the next one starts (the first covers connecting and locking), steps are timed by the
 * engine itself. Observes only; it never changes what is printed or done.
 */
export class Timings {
  private readonly phases: { phase: string; at: number }[] = [];
  private readonly steps: { host: string; step: string; ms: number; ok: boolean }[] = [];
  readonly emit: Emit;

  /** `now` counts from the process's start (performance.now() does), so start-up is a phase too. */
  constructor(
    downstream: Emit,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.phases.push({ phase: START_UP, at: 0 }, { phase: BEFORE_FIRST_PHASE, at: now() });
    this.emit = (event: EngineEvent) => {
      this.observe(event);
      downstream(event);
    };
  }

  private observe(event: EngineEvent): void {
    if (event.type === "phase") this.phases.push({ phase: event.phase, at: this.now() });
    else if (event.type === "step" && event.status !== "start")
      this.steps.push({ host: event.host, step: event.step, ms: event.ms ?? 0, ok: event.status === "ok" });
    else if (event.type === "timing")
      this.steps.push({ host: event.host, step: event.step, ms: event.ms, ok: true });
  }

  report(): TimingsReport {
    const end = this.now();
    const phases = this.phases.map((p, i) => ({
      phase: p.phase,
      ms: Math.round((this.phases[i + 1]?.at ?? end) - p.at),
    }));
    return { total_ms: Math.round(end), phases, steps: [...this.steps] };
  }
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/**
 * The text table: phases with their wall time; each step with its time on one host, or with
 * median, slowest and which host was slowest on many; each host's total and its slowest step.
 */
export function timingsText(r: TimingsReport): string {
  const lines = [`timings (${r.total_ms} ms in all)`];
  lines.push(table([["phase", "ms"], ...r.phases.map((p) => [p.phase, String(p.ms)])]).replace(/^/gm, "  "));
  const hosts = [...new Set(r.steps.map((s) => s.host))];
  const byStep = new Map<string, { host: string; ms: number }[]>();
  const byHost = new Map<string, Map<string, number>>();
  for (const s of r.steps) {
    const perHost = byHost.get(s.host) ?? new Map<string, number>();
    perHost.set(s.step, (perHost.get(s.step) ?? 0) + s.ms);
    byHost.set(s.host, perHost);
  }
  for (const [host, steps] of byHost)
    for (const [step, ms] of steps) byStep.set(step, [...(byStep.get(step) ?? []), { host, ms }]);
  if (byStep.size === 0) return lines.join("\n");
  const rows =
    hosts.length === 1
      ? [["step", "ms"], ...[...byStep].map(([step, [t]]) => [step, String(t!.ms)])]
      : [
          ["step", "hosts", "median ms", "max ms", "slowest host"],
          ...[...byStep].map(([step, ts]) => {
            const slowest = ts.reduce((a, b) => (b.ms > a.ms ? b : a));
            const ms = ts.map((t) => t.ms);
            return [step, String(ts.length), String(median(ms)), String(slowest.ms), slowest.host];
          }),
        ];
  lines.push(table(rows).replace(/^/gm, "  "));
  if (hosts.length > 1) {
    const hostRows = [...byHost].map(([host, steps]) => {
      const [slowStep, slowMs] = [...steps].reduce((a, b) => (b[1] > a[1] ? b : a));
      const total = [...steps.values()].reduce((a, b) => a + b, 0);
      return [host, String(total), `${slowStep} (${slowMs} ms)`];
    });
    lines.push(table([["host", "steps ms", "slowest step"], ...hostRows]).replace(/^/gm, "  "));
  }
  return lines.join("\n");
}

/** `--timings` around a command: the emit to run it with, and its output with the timings added. */
export function withTimings(
  enabled: boolean | undefined,
  emit: Emit,
): {
  emit: Emit;
  print: <R extends object>(human: string, json: R) => [string, R | (R & { timings: TimingsReport })];
} {
  if (!enabled) return { emit, print: (human, json) => [human, json] };
  const timings = new Timings(emit);
  return {
    emit: timings.emit,
    print: (human, json) => {
      const report = timings.report();
      return [`${human}\n${timingsText(report)}`, { ...json, timings: report }];
    },
  };
}
