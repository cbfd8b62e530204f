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
  /** For people (dry runs): what a fixed program does, shown instead of its text. */
  readonly label?: string;
}

export function cmd(argv: readonly string[], options: Omit<Cmd, "argv"> = {}): Cmd {
  return { argv, ...options };
}

/**
 * A fixed POSIX sh program whose data arrives only as positional parameters ("$1", "$2", ...). In a
 * script it runs in a subshell of the script's own shell (see renderCmd), so it must not take `$$`
 * for its own process.
 */
export function shProgram(program: string, args: readonly string[], options: Omit<Cmd, "argv"> = {}): Cmd {
  return cmd(["sh", "-c", program, "sh", ...args], options);
}

/**
 * A shProgram as a subshell of the script: `sh -c PROGRAM sh ARGS` without a new sh process (a
 * deploy runs dozens; each exec of sh costs ~1.5 ms of a host's time). The subshell starts as
 * `sh -c` would: -e off, its own positional parameters. Not for a command that may fail
 * (`|| true` would turn -e off inside it) nor one with an environment of its own (`env` execs).
 */
function asSubshell(c: Cmd): string | undefined {
  const [sh, dashC, program, zero, ...args] = c.argv;
  if (sh !== "sh" || dashC !== "-c" || zero !== "sh" || program === undefined) return undefined;
  if (c.mayFail || c.env) return undefined;
  return `(set +e\nset -- ${quoteArgv(args)}\n${program}\n)`;
}

/**
 * A command as a person should read it in a dry run: a labelled fixed program by its label and its
 * arguments (its text is in the source), anything else exactly as it will run.
 */
export function displayCmd(c: Cmd): string {
  if (c.label === undefined || c.argv[0] !== "sh" || c.argv[1] !== "-c") return renderCmd(c);
  return renderCmd({ ...c, argv: ["__LABEL__", ...c.argv.slice(4)] }).replace("__LABEL__", `[${c.label}]`);
}

export function renderCmd(c: Cmd): string {
  const envWords = c.env ? Object.entries(c.env).map(([k, v]) => quote(`${k}=${v}`)) : [];
  let line =
    envWords.length > 0
      ? `env ${envWords.join(" ")} ${quoteArgv(c.argv)}`
      : (asSubshell(c) ?? quoteArgv(c.argv));
  if (c.stdoutTo !== undefined) line += ` ${c.append ? ">>" : ">"} ${quote(c.stdoutTo)}`;
  if (c.quiet) line += " 2>/dev/null";
  if (c.cwd !== undefined) line = `(cd -- ${quote(c.cwd)} && ${line})`;
  if (c.mayFail) line += " || true";
  return line;
}

/**
 * The one place commands become shell text: a script with `set -e`, so the first failing command
 * ends it with its exit code. sessionInput() wraps it for the long-lived session.
 */
export function renderScript(cmds: readonly Cmd[]): string {
  return `set -e\n${cmds.map(renderCmd).join("\n")}\n`;
}

/** Above this a script goes through a temp file: one exec argument may not exceed 128 KiB on Linux. */
const INLINE_LIMIT = 100_000;

/**
 * What a long-lived `sh -s` session is fed for one script. The script runs under coreutils `timeout`
 * (its own process group, killed whole when time is up: exit 124) with stdin from /dev/null, so
 * nothing it runs can eat the session's input. It runs in the background so the session can first
 * report its process group id on stderr (`stepGroupLine`): an interrupt kills that group on the
 * host, whatever the transport. Then an end marker with the exit code is printed on stdout and on
 * stderr. A small script is one `sh -c` argument; a large one (a manifest) is written to a temp file
 * through a quoted here-document first, and is not run if that write fails.
 */
export function sessionInput(script: string, nonce: string, timeoutSeconds: number): string {
  const marker = `__CUTOVER_END_${nonce}`;
  const limit = `timeout -k 5 ${Math.ceil(timeoutSeconds)} sh`;
  const eof = `__CUTOVER_SCRIPT_${nonce}`;
  const start = (command: string) => [
    `${command} </dev/null &`,
    "__pid=$!",
    `printf '\\n%s %s\\n' '${stepGroupMarker(nonce)}' "$__pid" >&2`,
    'wait "$__pid"; __rc=$?',
  ];
  const run =
    Buffer.byteLength(script) <= INLINE_LIMIT
      ? start(`${limit} -c ${quote(script)}`)
      : [
          `__f="\${TMPDIR:-/tmp}/cutover-$$-${nonce}.sh"`,
          `if cat > "$__f" <<'${eof}'`,
          script.endsWith("\n") ? script.slice(0, -1) : script,
          eof,
          "then",
          ...start(`${limit} "$__f"`),
          `else __rc=125; echo "cutover: cannot write $__f" >&2; fi`,
          'rm -f "$__f"',
        ];
  return [...run, `printf '\\n%s %s\\n' '${marker}' "$__rc"`, `printf '\\n%s\\n' '${marker}' >&2`, ""].join(
    "\n",
  );
}

/** The stderr line that names a running step's process group: `\n<marker> <pgid>\n`. */
export function stepGroupMarker(nonce: string): string {
  return `__CUTOVER_GROUP_${nonce}`;
}

/**
 * Stops a step's whole process group on its host: TERM, up to 3 s to finish, then KILL. It runs
 * beside the session (a second shell, or a second SSH channel), since the session waits on the step.
 */
const KILL_GROUP = `g=$1
kill -s TERM -- "-$g" 2>/dev/null || exit 0
i=0
while [ $i -lt 30 ] && kill -s 0 -- "-$g" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
kill -s KILL -- "-$g" 2>/dev/null || true
`;

/**
 * One `sh -c` command, never a subshell's text: over SSH the user's login shell (fish, say) runs it,
 * and only `sh -c ...` reads the same in every shell.
 */
export function killGroupScript(pgid: number): string {
  return quoteArgv(["sh", "-c", KILL_GROUP, "sh", String(pgid)]);
}
