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
  /** Answered (2xx) responses that named a release, and those that named none. */
  readonly identified: number;
  readonly unidentified: number;
  /**
   * Responses that named more than one release (files from two releases in one request); null when
   * too few responses named a release to tell (see MIN_IDENTIFIED), never a 0 that was not measured.
   */
  readonly mixed: number | null;
  /** Requests sent after the switch had finished that were answered by another release (or null). */
  readonly stale: number | null;
  /** From the end of the switch to the answer of the last stale request (0 when none, or null). */
  readonly staleMs: number | null;
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
 * Share of answered responses that must name a release for mixed and stale to be reported: a stale
 * answer that names nothing is invisible, so a few identified responses among many say nothing.
 */
const MIN_IDENTIFIED = 0.9;

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
  let identified = 0;
  let unidentified = 0;
  let identifiedAfterSwitch = false;
  for (const s of samples) {
    const failed = s.error !== null || s.status === null || s.status < 200 || s.status >= 300;
    if (!failed && s.releases.length > 0) {
      identified += 1;
      identifiedAfterSwitch ||= s.sentAt > switchEnd;
    } else if (!failed) unidentified += 1;
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
  const measured = identifiedAfterSwitch && identified >= MIN_IDENTIFIED * (identified + unidentified);
  return {
    requests: samples.length,
    failures,
    identified,
    unidentified,
    mixed: measured ? mixed : null,
    stale: measured ? stale : null,
    staleMs: measured ? round(staleUntil - switchEnd) : null,
    latencyMs: { steady: percentiles(steady), switchWindow: percentiles(window) },
    ...(firstFailure === undefined ? {} : { firstFailure }),
  };
}

export function probeText(r: ProbeReport): string {
  const f = r.failures;
  const failed = f.status + f.reset + f.timeout + f.refused + f.other;
  const answered = r.identified + r.unidentified;
  const verdicts =
    r.mixed === null
      ? "mixed and stale not measured"
      : `${r.mixed} mixed, ${r.stale} stale (longest ${r.staleMs} ms after the switch)`;
  return [
    `probe: ${r.requests} requests, ${failed} failed (status ${f.status}, reset ${f.reset}, timeout ${f.timeout}, refused ${f.refused}, other ${f.other}), ${verdicts}; ${r.identified} of ${answered} answers named a release`,
    ...(r.mixed === null
      ? [
          `probe: too few answers named a release to see mixed or stale code: let the app name it (an X-Release header or the id in the body), or serve it with \`cutover server-config nginx\` (its X-Cutover-Release header names the release nginx resolved)`,
        ]
      : []),
    `probe latency ms: switch window p50 ${r.latencyMs.switchWindow.p50} p99 ${r.latencyMs.switchWindow.p99} max ${r.latencyMs.switchWindow.max}; steady p50 ${r.latencyMs.steady.p50} p99 ${r.latencyMs.steady.p99} max ${r.latencyMs.steady.max}`,
    ...(r.firstFailure ? [`probe first failure: ${r.firstFailure}`] : []),
  ].join("\n");
}
