import { neutralizeControls, stripAnsi } from "../report/colors.js";
import type { Redactor } from "../report/redact.js";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Colour only where a person reads it: NO_COLOR (any value but empty) turns it off, FORCE_COLOR
 * (anything but 0 or false) on even into a pipe or a CI log; otherwise a terminal that is not dumb.
 */
export function wantsColor(stream: { readonly isTTY?: boolean }, env: Env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== "0" && env.FORCE_COLOR !== "false";
  return stream.isTTY === true && env.TERM !== "dumb";
}

/** Writes to a stream with secrets redacted and, unless the stream wants colour, plain text. */
export function writer(stream: NodeJS.WriteStream, redactor: Redactor, env: Env = process.env) {
  const color = wantsColor(stream, env);
  return (text: string): void => {
    const safe = neutralizeControls(redactor.text(text));
    stream.write(color ? safe : stripAnsi(safe));
  };
}
