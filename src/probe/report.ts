import type { Sample } from "./probe.js";

export interface ProbeReport {
  readonly requests: number;
  readonly failures: {
    readonly status: number;
    readonly reset: number;
    readonly timeout: number;
    readonly refused: number;
    readonly other: number;
  };
  /** Responses that named more than one release (files from two releases in one request). */
  readonly mixed: number;
  /** Requests sent after the switch had finished that were answered by another release. */
  readonly stale: number;
  /** From the end of the switch to the answer of the last stale request (0 when none). */
  readonly staleMs: number;
  readonly latencyMs: { readonly steady: Percentiles; readonly switchWindow: Percentiles };
  /** The first failed request: what came back and when, relative to the end of the switch. */
  readonly firstFailure?: string;
}

export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly count: number;
}

function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted.at(-1) ?? 0), count: sorted.length };
}

const round = (n: number) => Math.round(n * 10) / 10;

/**
 * Judges the samples against a switch to `release` that ran from `switchStart` to `switchEnd`
 * (epoch ms): downtime is any non-2xx or socket error; mixed is more than one release in one
 * response; stale is an old release answering a request sent after the switch ended.
 */
export function judge(
  samples: readonly Sample[],
  release: string,
  switchStart: number,
  switchEnd: number,
  windowMs = 1000,
): ProbeReport {
  const failures = { status: 0, reset: 0, timeout: 0, refused: 0, other: 0 };
  let mixed = 0;
  let stale = 0;
  let staleUntil = switchEnd;
  const steady: number[] = [];
  const window: number[] = [];
  let firstFailure: string | undefined;
  for (const s of samples) {
    const failed = s.error !== null || s.status === null || s.status < 200 || s.status >= 300;
    if (s.error) failures[s.error] += 1;
    else if (failed) failures.status += 1;
    if (failed && firstFailure === undefined) {
      const at = Math.round(s.sentAt - switchEnd);
      const what = s.error ? `${s.error}` : `HTTP ${s.status}`;
      firstFailure = `${what} sent ${Math.abs(at)} ms ${at < 0 ? "before" : "after"} the switch ended${s.detail ? `: ${s.detail}` : ""}`;
    }
    if (s.releases.length > 1) mixed += 1;
    if (!s.error && s.sentAt > switchEnd && s.releases.length > 0 && s.releases.some((r) => r !== release)) {
      stale += 1;
      staleUntil = Math.max(staleUntil, s.doneAt);
    }
    const inWindow = s.doneAt >= switchStart - windowMs && s.sentAt <= switchEnd + windowMs;
    (inWindow ? window : steady).push(s.doneAt - s.sentAt);
  }
  return {
    requests: samples.length,
    failures,
    mixed,
    stale,
    staleMs: round(staleUntil - switchEnd),
    latencyMs: { steady: percentiles(steady), switchWindow: percentiles(window) },
    ...(firstFailure === undefined ? {} : { firstFailure }),
  };
}

export function probeText(r: ProbeReport): string {
  const f = r.failures;
  const failed = f.status + f.reset + f.timeout + f.refused + f.other;
  return [
    `probe: ${r.requests} requests, ${failed} failed (status ${f.status}, reset ${f.reset}, timeout ${f.timeout}, refused ${f.refused}, other ${f.other}), ${r.mixed} mixed, ${r.stale} stale (longest ${r.staleMs} ms after the switch)`,
    `probe latency ms: switch window p50 ${r.latencyMs.switchWindow.p50} p99 ${r.latencyMs.switchWindow.p99} max ${r.latencyMs.switchWindow.max}; steady p50 ${r.latencyMs.steady.p50} p99 ${r.latencyMs.steady.p99} max ${r.latencyMs.steady.max}`,
    ...(r.firstFailure ? [`probe first failure: ${r.firstFailure}`] : []),
  ].join("\n");
}
