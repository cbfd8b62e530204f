import { checkComponent, componentNames } from "../config/components.js";
import { findConfigFile, loadConfig } from "../config/load.js";
import type { ResolvedRefs } from "../engine/git-source.js";
import { CutoverError, EXIT, type ExitCode, usageError } from "../errors.js";
import { errorText } from "../report/error-text.js";
import type { Redactor } from "../report/redact.js";
import { type CommandContext, createContext, type GlobalOptions } from "./context.js";
import { hostList } from "./options.js";
import { writer } from "./output.js";

/**
 * How a command treats `components:` without --component: `each-*` runs it once per component, in
 * config order, each a whole run of the one engine (so a failure in one never leaves another
 * half-switched); `each-stop` (commands that change hosts) ends at the first that fails, and the
 * rest are not started; `each-continue` (read-only ones) goes on. `one` needs the component named
 * (rollback, restore and release ids mean one part). `none`: --component means nothing there.
 */
type Policy = "none" | "one" | "each-stop" | "each-continue";

function policyOf(command: string, args: readonly string[]): Policy {
  switch (command) {
    case "init":
    case "completion":
    case "__stages":
    case "__components":
      return "none";
    case "rollback":
    case "agent": // it never ends: one agent per component
    case "server-config":
    case "snapshot restore":
      return "one";
    case "diff": // release ids belong to one component
      return args.length > 1 ? "one" : "each-continue";
    case "releases":
    case "history":
    case "log":
    case "verify":
    case "doctor":
    case "snapshot list":
      return "each-continue";
    default:
      return "each-stop";
  }
}

export interface Invocation {
  readonly global: GlobalOptions;
  readonly argv: readonly string[];
  readonly redactor: Redactor;
  /** The command's path (`deploy`, `snapshot restore`) and its positional arguments. */
  readonly command: string;
  readonly args: readonly string[];
  /** The command's --hosts, when it has one. */
  readonly hosts?: string;
}

/** Runs `action` for the selected components (or once, for a config without them). */
export async function runForComponents(
  run: Invocation,
  action: (ctx: CommandContext) => Promise<ExitCode>,
): Promise<ExitCode> {
  const { global, argv, redactor, command } = run;
  const policy = policyOf(command, run.args);
  const wanted = global.component;
  if (policy === "none") {
    if (wanted !== undefined) throw usageError(`--component does not apply to ${command}`);
    return action(createContext(global, argv, redactor));
  }
  const file = findConfigFile(global.config, process.cwd());
  const { config, secrets } = loadConfig(file);
  redactor.add(secrets);
  if (wanted !== undefined) checkComponent(config, file, wanted);
  const names = wanted !== undefined ? [wanted] : componentNames(config);
  if (names.length === 0) return action(createContext(global, argv, redactor));
  if (names.length > 1 && policy === "one")
    throw usageError(
      `${command}: ${file} defines ${names.length} components; name one with --component (${names.join(", ")})`,
      `add --component ${names[0]} (or another of the names above)`,
    );
  const out = writer(process.stdout, redactor);
  if (names.length === 1) {
    const scope = {
      component: names[0]!,
      header: false,
      siblings: [],
      onJson: (j: unknown) => out(jsonText(tag(j, names[0]!))),
    };
    return action(createContext(global, argv, redactor, scope));
  }
  return runEach(run, names, policy === "each-stop", action);
}

async function runEach(
  run: Invocation,
  names: readonly string[],
  stopOnFailure: boolean,
  action: (ctx: CommandContext) => Promise<ExitCode>,
): Promise<ExitCode> {
  const { global, argv, redactor } = run;
  const results: unknown[] = [];
  const done: string[] = [];
  const resolvedRefs: ResolvedRefs = new Map();
  let code: ExitCode = EXIT.ok;
  for (const [i, component] of names.entries()) {
    // Commands that change hosts print progress on stderr: it says which component it belongs to.
    let announced = (global.quiet ?? false) || !stopOnFailure;
    const scope = {
      component,
      header: true,
      siblings: names,
      hosts: hostList(run.hosts),
      onJson: (j: unknown) => results.push(tag(j, component)),
      resolvedRefs,
      resolved: () => {
        if (!announced)
          writer(process.stderr, redactor)(`component ${component} (${i + 1} of ${names.length})\n`);
        announced = true;
      },
    };
    let exit: ExitCode;
    try {
      exit = await action(createContext(global, argv, redactor, scope));
    } catch (error) {
      const named = inComponent(error, component, done, {
        components: results,
        notStarted: names.slice(i + 1),
      });
      // A read-only command shows the components that answered; this one's error is said and kept.
      if (stopOnFailure || !(named instanceof CutoverError) || named.exitCode === EXIT.usage) throw named;
      const { detail, state, fix } = named.details;
      writer(process.stderr, redactor)(errorText(named.message, { detail, state, fix }));
      exit = named.exitCode;
    }
    done.push(component);
    if (exit !== EXIT.ok && code === EXIT.ok) code = exit;
    if (exit !== EXIT.ok && stopOnFailure) break;
  }
  const notStarted = names.slice(done.length);
  if (global.json) {
    const rows = results.every(Array.isArray) ? results.flat() : undefined;
    writer(process.stdout, redactor)(jsonText(rows ?? { components: results, notStarted }));
  }
  if (notStarted.length > 0 && !global.quiet)
    writer(process.stderr, redactor)(`not started after that failure: ${notStarted.join(", ")}\n`);
  return code;
}

/** JSON says which component: on the object, or on every row of a list. */
function tag(json: unknown, component: string): unknown {
  if (Array.isArray(json)) return json.map((row) => tag(row, component));
  if (json !== null && typeof json === "object") return { component, ...json };
  return { component, value: json };
}

const jsonText = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/**
 * An error in one component names it, and the components that finished before it (their results,
 * and those not started, in `partial` for --json). Usage and config errors are the whole command's
 * (every component is resolved before the first runs).
 */
function inComponent(
  error: unknown,
  component: string,
  done: readonly string[],
  partial: Record<string, unknown>,
): unknown {
  if (!(error instanceof CutoverError) || error.exitCode === EXIT.usage) return error;
  const { state, fix, ...details } = error.details;
  const before = done.length > 0 ? `finished before it: ${done.join(", ")}` : undefined;
  return new CutoverError(error.code, `component ${component}: ${error.message}`, {
    ...details,
    partial,
    state: [state && `${component}: ${state}`, before].filter(Boolean).join("; ") || undefined,
    fix: fix && `${fix} (with --component ${component})`,
  });
}
