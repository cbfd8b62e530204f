import type { DeployResult } from "../engine/outcome.js";
import { CutoverError, EXIT } from "../errors.js";

/** What pull and the agent need from the world; the CLI wires the engine in, tests may wire less. */
export interface PullDeps {
  /** The commit the configured ref names now (`git ls-remote`). */
  resolve(signal?: AbortSignal): Promise<string>;
  /** The release every host serves and its commit (null: none, or hosts disagree). */
  live(): Promise<Live>;
  /** Why `commit` must not be deployed again (it failed, or was rolled back); undefined = go ahead. */
  rejected(commit: string): Promise<string | undefined>;
  deploy(commit: string, signal?: AbortSignal): Promise<DeployResult>;
  /** Remembers a failed attempt (or forgets one that now deployed fine). */
  remember(commit: string, failure: string | undefined): void;
}

export interface Live {
  readonly release: string | null;
  readonly commit: string | null;
}

export type PullOutcome =
  | { readonly action: "up-to-date"; readonly commit: string; readonly release: string | null }
  | { readonly action: "skipped"; readonly commit: string; readonly reason: string }
  | { readonly action: "deployed"; readonly commit: string; readonly result: DeployResult }
  | {
      readonly action: "failed";
      readonly commit: string;
      readonly result: DeployResult;
      readonly error: string;
    };

/**
 * One pull: deploy the configured ref's commit unless it is already live or it failed before
 * (`retry` overrides the latter). A run that was interrupted or found the lock taken says nothing
 * about the commit, so it is not remembered as failed.
 */
export async function pullOnce(
  deps: PullDeps,
  options: { retry?: boolean; signal?: AbortSignal } = {},
): Promise<PullOutcome> {
  const commit = await deps.resolve(options.signal);
  const live = await deps.live();
  if (live.commit === commit) return { action: "up-to-date", commit, release: live.release };
  // Read even with `retry`: a state file that cannot be read or written is refused before a deploy.
  const reason = await deps.rejected(commit);
  if (reason !== undefined && !options.retry) return { action: "skipped", commit, reason };
  let result: DeployResult;
  try {
    result = await deps.deploy(commit, options.signal);
  } catch (error) {
    const exit = error instanceof CutoverError ? error.details.exitCode : undefined;
    if (exit !== EXIT.locked && exit !== EXIT.interrupted && exit !== EXIT.usage)
      deps.remember(commit, (error as Error).message);
    throw error;
  }
  if (result.ok || result.exitCode === EXIT.degraded) {
    deps.remember(commit, undefined);
    return { action: "deployed", commit, result };
  }
  const error = result.error?.message ?? "the deploy failed";
  if (result.exitCode !== EXIT.interrupted) deps.remember(commit, error);
  return { action: "failed", commit, result, error };
}
