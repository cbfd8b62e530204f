import { CutoverError, EXIT } from "../errors.js";
import type { LockedTarget } from "./lock.js";
import type { Prepared } from "./prepare.js";

/**
 * Prepares hosts, at most `parallel` at a time. The first failure (or a signal) stops the others
 * at once: their current step is killed, so no host waits on a deploy that cannot happen.
 */
export async function prepareAll(
  locked: readonly LockedTarget[],
  prepare: (t: LockedTarget, stopped: AbortSignal) => Promise<Prepared>,
  parallel: number | undefined,
  signal: AbortSignal | undefined,
): Promise<{ done: Map<LockedTarget, Prepared>; error?: Error }> {
  const done = new Map<LockedTarget, Prepared>();
  const stopped = new AbortController();
  let error: Error | undefined;
  const stop = (e: Error) => {
    if (error) return;
    error = e;
    stopped.abort();
    for (const t of locked) t.executor.interrupt();
  };
  const onAbort = () =>
    stop(
      new CutoverError("interrupted", "interrupted by a signal before the switch", {
        exitCode: EXIT.interrupted,
      }),
    );
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) onAbort();
  const queue = [...locked];
  const worker = async () => {
    for (let t = queue.shift(); t && !error; t = queue.shift()) {
      try {
        done.set(t, await prepare(t, stopped.signal));
      } catch (e) {
        stop(e as Error);
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(parallel ?? locked.length, locked.length)) }, worker),
  );
  signal?.removeEventListener("abort", onAbort);
  return { done, error };
}
