import { CutoverError, EXIT } from "../errors.js";
import type { Unit } from "./finalize.js";
import type { Prepared } from "./prepare.js";

/**
 * Prepares hosts, at most `parallel` at a time. The first failure (or a signal) stops the others
 * at once: their current step is killed, so no host waits on a deploy that cannot happen.
 */
export async function prepareAll(
  units: readonly Unit[],
  prepare: (u: Unit, stopped: AbortSignal) => Promise<Prepared>,
  parallel: number | undefined,
  signal: AbortSignal | undefined,
): Promise<{ done: Map<Unit, Prepared>; error?: Error }> {
  const done = new Map<Unit, Prepared>();
  const stopped = new AbortController();
  let error: Error | undefined;
  const stop = (e: Error) => {
    if (error) return;
    error = e;
    stopped.abort();
    for (const u of units) void u.t.executor.interrupt();
  };
  const onAbort = () =>
    stop(
      new CutoverError("interrupted", "interrupted by a signal before the switch", {
        exitCode: EXIT.interrupted,
      }),
    );
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) onAbort();
  const queue = [...units];
  const worker = async () => {
    for (let u = queue.shift(); u && !error; u = queue.shift()) {
      try {
        done.set(u, await prepare(u, stopped.signal));
      } catch (e) {
        stop(e as Error);
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(parallel ?? units.length, units.length)) }, worker),
  );
  signal?.removeEventListener("abort", onAbort);
  return { done, error };
}
