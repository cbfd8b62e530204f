import type { DeployResult } from "../engine/outcome.js";
import { CutoverError, EXIT } from "../errors.js";
import { transientCause } from "./transient.js";

/** What pull and the agent need from the world; the CLI wires the engine in, tests may wire less. */
export interface PullDeps {
  /** The commit the configured ref names now (`git ls-remote`). */
  resolve(signal?: AbortSignal): Promise<string>;
  /** The release every host serves and its commit (null: none, or hosts disagree). */
  live(): Promise<Live>;
  /** Why `commit` must not be deployed now (it failed, or was rolled back); undefined = go ahead. */
  rejected(commit: string): Promise<Rejection | undefined>;
  deploy(commit: string, signal?: AbortSignal): Promise<DeployResult>;
  /** Remembers a failed attempt (or forgets one that now deployed fine); a transient one's next try time. */
  remember(commit: string, failure: Failure | undefined): string | undefined;
}

export interface Rejection {
  readonly reason: string;
  /** Set when the commit's last attempt failed transiently: it is tried again from then on. */
  readonly retryAt?: string;
}

export interface Failure {
  readonly reason: string;
  /** Why the failure says nothing about the commit (see transient.ts); undefined = held against it. */
  readonly transient?: string;
  /** The release the attempt made. */
  readonly release?: string;
}

export interface Live {
  readonly release: string | null;
  readonly commit: string | null;
}

export type PullOutcome =
  | { readonly action: "up-to-date"; readonly commit: string; readonly release: string | null }
  | {
      readonly action: "skipped";
      readonly commit: string;
      readonly reason: string;
      readonly retryAt?: string;
    }
  | { readonly action: "deployed"; readonly commit: string; readonly result: DeployResult }
  | {
      readonly action: "failed";
      readonly commit: string;
      readonly result: DeployResult;
      readonly error: string;
      /** A transient failure: why, and when the commit is tried again. */
      readonly transient?: string;
      readonly retryAt?: string;
    };

/**
 * One pull: deploy the configured ref's commit unless it is already live or it failed before
 * (`retry` overrides the latter). A run that was interrupted or found the lock taken says nothing
 * about the commit, so it is not remembered as failed; one whose fetch failed on the network is
 * remembered with a time from which it is tried again (a bounded backoff).
 */
export async function pullOnce(
  deps: PullDeps,
  options: { retry?: boolean; signal?: AbortSignal } = {},
): Promise<PullOutcome> {
  const commit = await deps.resolve(options.signal);
  const live = await deps.live();
  if (live.commit === commit) return { action: "up-to-date", commit, release: live.release };
  // Read even with `retry`: a state file that cannot be read or written is refused before a deploy.
  const rejection = await deps.rejected(commit);
  if (rejection !== undefined && !options.retry) return { action: "skipped", commit, ...rejection };
  let result: DeployResult;
  try {
    result = await deps.deploy(commit, options.signal);
  } catch (error) {
    const exit = error instanceof CutoverError ? error.details.exitCode : undefined;
    if (exit !== EXIT.locked && exit !== EXIT.interrupted && exit !== EXIT.usage)
      deps.remember(commit, { reason: (error as Error).message });
    throw error;
  }
  if (result.ok || result.exitCode === EXIT.degraded) {
    deps.remember(commit, undefined);
    return { action: "deployed", commit, result };
  }
  const error = result.error?.message ?? "the deploy failed";
  if (result.exitCode === EXIT.interrupted) return { action: "failed", commit, result, error };
  const transient = transientCause(error);
  const retryAt = deps.remember(commit, { reason: error, transient, release: result.release });
  return { action: "failed", commit, result, error, ...(transient && retryAt ? { transient, retryAt } : {}) };
}
