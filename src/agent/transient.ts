import { MIRROR_FETCH_STEP } from "../plan/release-content.js";

/**
 * Why a failed pull says nothing about its commit, or undefined when it does. The mirror's fetch
 * failing with git's own exit code (a network error, a server answering 5xx, a timeout) would
 * likely pass on a later try; the mirror script's own refusals exit 3 (a planted symlink, unsafe
 * settings, the commit missing after the fetch) and fail again the same way, as do a build, a
 * smoke test or a health check.
 */
export function transientCause(message: string): string | undefined {
  const m = new RegExp(`: ${MIRROR_FETCH_STEP} failed \\(exit (\\d+)`).exec(message);
  if (!m || m[1] === "3") return undefined;
  return `the fetch from the repository failed (exit ${m[1]})`;
}

/**
 * Seconds before try number `attempts + 1` of a commit whose last `attempts` tries failed
 * transiently: the poll interval (without polling a minute, or `maxSeconds` if less), doubled
 * each time, at most `maxSeconds`.
 */
export function retryDelaySeconds(attempts: number, pollSeconds: number, maxSeconds: number): number {
  const base = pollSeconds > 0 ? pollSeconds : Math.min(60, maxSeconds);
  return Math.min(Math.max(base, maxSeconds), base * 2 ** Math.min(Math.max(attempts - 1, 0), 30));
}
