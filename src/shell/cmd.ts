import { quote, quoteArgv } from "./quote.js";

/**
 * A command as data. `argv` is never parsed by a shell: it is quoted word by word when a script is
 * rendered. Redirections and the working directory are fields, not text, so paths stay data too.
 */
export interface Cmd {
  readonly argv: readonly string[];
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Write stdout to this file (truncating), or append when `append` is set. */
  readonly stdoutTo?: string;
  readonly append?: boolean;
  /** A failure of this command does not stop the script. */
  readonly mayFail?: boolean;
  /** Drop the command's stderr (used for probes whose failure is an answer). */
  readonly quiet?: boolean;
}

export function cmd(argv: readonly string[], options: Omit<Cmd, "argv"> = {}): Cmd {
  return { argv, ...options };
}

/** A fixed POSIX sh program whose data arrives only as positional parameters ("$1", "$2", ...). */
export function shProgram(program: string, args: readonly string[], options: Omit<Cmd, "argv"> = {}): Cmd {
  return cmd(["sh", "-c", program, "sh", ...args], options);
}

export function renderCmd(c: Cmd): string {
  const envWords = c.env ? Object.entries(c.env).map(([k, v]) => quote(`${k}=${v}`)) : [];
  let line = envWords.length > 0 ? `env ${envWords.join(" ")} ${quoteArgv(c.argv)}` : quoteArgv(c.argv);
  if (c.stdoutTo !== undefined) line += ` ${c.append ? ">>" : ">"} ${quote(c.stdoutTo)}`;
  if (c.quiet) line += " 2>/dev/null";
  if (c.cwd !== undefined) line = `(cd -- ${quote(c.cwd)} && ${line})`;
  if (c.mayFail) line += " || true";
  return line;
}

/**
 * The one place commands become shell text: a subshell with `set -e`, so the first failing command
 * ends the script with its exit code and an `exit` can never end the long-lived session around it.
 * With a timeout, the subshell is a `sh -c` under coreutils `timeout`.
 */
export function renderScript(cmds: readonly Cmd[], timeoutSeconds?: number): string {
  const body = `set -e\n${cmds.map(renderCmd).join("\n")}\n`;
  if (timeoutSeconds === undefined) return `(\n${body})`;
  // coreutils timeout runs the script in its own process group and kills the whole group when the
  // time is up, so nothing a hook started is left running (exit 124).
  return `timeout -k 5 ${Math.ceil(timeoutSeconds)} sh -c ${quote(body)}`;
}
