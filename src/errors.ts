/**
 * Every error a user can cause or meet has a code, a one-line title that says what and where, and
 * optional lines for the state they are left in and what to do. The CLI prints these without a stack.
 */
export type ExitCode = 0 | 1 | 2 | 3 | 4 | 130;

export const EXIT = {
  ok: 0,
  /** The deploy or rollback failed; nothing was switched, or every switched host was switched back. */
  failed: 1,
  /** Usage or configuration error: nothing was changed anywhere. */
  usage: 2,
  /** Another run holds the lock. */
  locked: 3,
  /** The new release is live but a step after the switch (hook, cleanup) failed. */
  degraded: 4,
  interrupted: 130,
} as const satisfies Record<string, ExitCode>;

export interface ErrorDetails {
  /** What state the targets are in now, e.g. "current still points to X on all hosts". */
  readonly state?: string;
  /** What to do about it. */
  readonly fix?: string;
  /** Extra lines: stderr tails, lists of files. */
  readonly detail?: readonly string[];
  readonly exitCode?: ExitCode;
  /** What finished before the error (a run over several components), printed beside it by --json. */
  readonly partial?: Readonly<Record<string, unknown>>;
}

export class CutoverError extends Error {
  readonly code: string;
  readonly details: ErrorDetails;

  constructor(code: string, title: string, details: ErrorDetails = {}) {
    super(title);
    this.name = "CutoverError";
    this.code = code;
    this.details = details;
  }

  get exitCode(): ExitCode {
    return this.details.exitCode ?? EXIT.failed;
  }
}

export function configError(title: string, fix?: string, detail?: readonly string[]): CutoverError {
  return new CutoverError("config", title, { fix, detail, exitCode: EXIT.usage });
}

export function usageError(title: string, fix?: string): CutoverError {
  return new CutoverError("usage", title, { fix, exitCode: EXIT.usage });
}
