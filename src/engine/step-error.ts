import { CutoverError } from "../errors.js";

const EXIT_MEANING: Record<number, string> = {
  124: "timed out and killed",
  126: "not executable",
  127: "command not found",
  130: "interrupted",
  137: "killed",
};

export function explainExit(code: number): string {
  const meaning = EXIT_MEANING[code];
  return meaning ? `exit ${code}, ${meaning}` : `exit ${code}`;
}

/** A step that failed on one host: says which host, which step, how, and the tail of its stderr. */
export class StepError extends CutoverError {
  constructor(
    readonly host: string,
    readonly step: string,
    reason: string,
    stderr: string,
  ) {
    const tail = stderr.replace(/\r/g, "").trim().split("\n").filter(Boolean).slice(-8);
    // A reason that already names the host (an explained SSH failure) leads; the step follows.
    const title = reason.startsWith(`${host}: `)
      ? `${reason} (during: ${step})`
      : `${host}: ${step} failed (${reason})`;
    super("step", title, { detail: tail });
  }
}
