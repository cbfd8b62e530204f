import { CutoverError } from "../errors.js";

/**
 * Runs `work` for every host, each to its end, then fails with every host's failure, not only the
 * first: against a fleet, fixing one unreachable host only to meet the next is a wasted round. And
 * the caller's `finally` (locks given back, connections closed) never runs while a host still works.
 */
export async function onEveryHost<T, R>(
  items: readonly T[],
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const settled = await Promise.allSettled(items.map(work));
  const failed = settled.flatMap((s) => (s.status === "rejected" ? [s.reason as unknown] : []));
  if (failed.length > 0) throw joinFailures(failed);
  return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
}

/**
 * One error for several hosts' failures: the first leads (its code and exit code), the others follow
 * as detail lines. Anything that is not a CutoverError is a bug and is passed on as it is.
 */
export function joinFailures(failed: readonly unknown[]): unknown {
  const bug = failed.find((e) => !(e instanceof CutoverError));
  if (bug !== undefined) return bug;
  const [first, ...rest] = failed as CutoverError[];
  if (rest.length === 0) return first;
  const more = `${rest.length} more host${rest.length === 1 ? "" : "s"} failed`;
  return new CutoverError(first!.code, `${first!.message}; ${more} (below)`, {
    ...first!.details,
    detail: [
      ...(first!.details.detail ?? []),
      ...rest.flatMap((e) => [e.message, ...(e.details.detail ?? []).map((line) => `  ${line}`)]),
    ],
  });
}
