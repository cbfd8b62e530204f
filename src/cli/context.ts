import { loadStage } from "../config/load-stage.js";
import type { ResolvedStage } from "../config/resolve.js";
import type { Emit } from "../engine/events.js";
import type { ResolvedRefs } from "../engine/git-source.js";
import type { DeployResult } from "../engine/outcome.js";
import { selectHosts } from "../engine/targets.js";
import { errorText } from "../report/error-text.js";
import type { Redactor } from "../report/redact.js";
import { progressRenderer } from "../report/render.js";
import { writer } from "./output.js";

export interface GlobalOptions {
  readonly config?: string;
  readonly dryRun?: boolean;
  readonly json?: boolean;
  readonly verbose?: boolean;
  readonly quiet?: boolean;
  readonly component?: string;
}

/** One component's run of a command: its stage is that part, its JSON goes to `onJson` (tagged there). */
export interface ComponentScope {
  readonly component: string;
  /** Several components run in turn: their human output is headed by the component's name. */
  readonly header: boolean;
  /** Every component of this run: all are resolved before any runs, so a config error changes nothing. */
  readonly siblings: readonly string[];
  /** The command's --hosts: every component of the run must have them all (checked before any runs). */
  readonly hosts?: readonly string[];
  /** Called once the stage resolved, before anything runs (progress names the component). */
  readonly resolved?: () => void;
  readonly onJson: (json: unknown) => void;
  /** Shared by every component of the run (see CommandContext.resolvedRefs). */
  readonly resolvedRefs?: ResolvedRefs;
}

/** What every command gets: its stage, a renderer for progress, and a way to print its result. */
export interface CommandContext {
  readonly global: GlobalOptions;
  readonly argv: readonly string[];
  stage(name: string | undefined): ResolvedStage;
  readonly emit: Emit;
  /** Prints the human text on stdout; with --json the JSON goes there and the text to stderr. */
  print(human: string, json: unknown): void;
  /** Reports a deploy or rollback that ended without success: an error block on stderr. */
  failed(result: DeployResult): void;
  /** strategy: git: the refs this command resolved, so components of one repository deploy one commit. */
  readonly resolvedRefs: ResolvedRefs;
}

/** Everything a command prints passes through `redactor`: values from the environment never show. */
export function createContext(
  global: GlobalOptions,
  argv: readonly string[],
  redactor: Redactor,
  scope?: ComponentScope,
): CommandContext {
  const write = writer(process.stderr, redactor);
  const out = writer(process.stdout, redactor);
  return {
    global,
    argv,
    stage: (name) => {
      const load = (component: string | undefined) =>
        loadStage({
          config: global.config,
          cwd: process.cwd(),
          stage: name,
          component,
          onSecrets: (secrets) => redactor.add(secrets),
        });
      for (const other of scope?.siblings ?? []) selectHosts(load(other), scope?.hosts);
      const stage = load(scope?.component);
      scope?.resolved?.();
      redactor.add(stage.secrets.values);
      return stage;
    },
    emit: progressRenderer({
      verbose: global.verbose ?? false,
      quiet: global.quiet ?? false,
      write,
    }),
    print: (text, json) => {
      const human = scope?.header ? `component ${scope.component}:\n${text}` : text;
      if (!global.json) {
        out(`${human}\n`);
        return;
      }
      if (scope) scope.onJson(json);
      else out(`${JSON.stringify(json, null, 2)}\n`);
      if (!global.quiet) write(`${human}\n`);
    },
    resolvedRefs: scope?.resolvedRefs ?? new Map(),
    failed: (result) => {
      if (result.ok || !result.error) return;
      const state = result.hosts.map((h) => `${h.host} → ${h.serving ?? "(no current)"}`).join(", ");
      write(
        errorText(result.error.message, {
          detail: result.error.detail,
          fix: result.error.fix,
          state: `current: ${state}`,
        }),
      );
    },
  };
}

/** Runs work with Ctrl-C / SIGTERM turned into an abort signal; a second signal exits at once. */
export async function withSignals<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write(`\n${name} again: exiting now; \`cutover unlock\` clears the lock this leaves\n`);
      process.exit(130);
    }
    process.stderr.write(
      `\n${name}: stopping safely (current is not left half-switched); press again to exit now\n`,
    );
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
