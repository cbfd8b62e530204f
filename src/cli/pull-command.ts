import { runAgent } from "../agent/agent.js";
import { pullDeps, requireLocal, stateFile } from "../agent/deps.js";
import { jsonLog, type Log } from "../agent/log.js";
import { type PullDeps, pullOnce } from "../agent/pull.js";
import { resolveAgent } from "../config/agent-settings.js";
import type { GitSource, ResolvedStage } from "../config/resolve.js";
import { deploy } from "../engine/deploy.js";
import type { Emit } from "../engine/events.js";
import { EXIT, type ExitCode, usageError } from "../errors.js";
import { resolveRef } from "../git/resolve.js";
import { Redactor } from "../report/redact.js";
import { deploySummary } from "../report/summary.js";
import { type CommandContext, withSignals } from "./context.js";
import { writer } from "./output.js";

/** Pull and the agent deploy a ref of a repository: the stage must use strategy: git. */
function gitOf(stage: ResolvedStage, command: string): GitSource {
  if (stage.strategy !== "git" || !stage.git)
    throw usageError(
      `${command}: stage ${stage.name} does not use strategy: git, so there is no ref to follow`,
      "set strategy: git, repository: and ref: in cutover.yaml",
    );
  return stage.git;
}

function depsFor(stage: ResolvedStage, git: GitSource, emit: Emit, command: string): PullDeps {
  return pullDeps(
    stage,
    async (signal) => (await resolveRef(git.repository, git.ref, { shown: git.shown, signal })).commit,
    (commit, signal) => deploy({ stage, ref: commit, emit, signal, command }),
  );
}

export async function pullCommand(
  ctx: CommandContext,
  stageName: string | undefined,
  opts: { retry?: boolean },
): Promise<ExitCode> {
  const stage = ctx.stage(stageName);
  requireLocal(stage, "pull");
  const git = gitOf(stage, "pull");
  const deps = depsFor(stage, git, ctx.emit, `cutover ${ctx.argv.join(" ")}`);
  if (ctx.global.dryRun) {
    const commit = await deps.resolve();
    const live = await deps.live();
    const rejected = live.commit === commit || opts.retry ? undefined : await deps.rejected(commit);
    const action = live.commit === commit ? "up-to-date" : rejected ? "skip" : "deploy";
    const until = rejected?.retryAt ? `; next try from ${rejected.retryAt}` : "";
    const verdict =
      action === "up-to-date"
        ? "up to date, nothing to do"
        : `would ${action}${rejected ? `: ${rejected.reason}${until}` : ""}`;
    ctx.print(`${git.ref} is ${commit}; live: ${live.commit ?? "(none)"}; ${verdict}`, {
      action,
      commit,
      live,
      ...(rejected ? { reason: rejected.reason } : {}),
      ...(rejected?.retryAt ? { retryAt: rejected.retryAt } : {}),
    });
    return EXIT.ok;
  }
  const outcome = await withSignals((signal) => pullOnce(deps, { retry: opts.retry, signal }));
  switch (outcome.action) {
    case "up-to-date":
      // Quiet for cron: nothing at all unless asked for JSON.
      if (ctx.global.json) ctx.print(`up to date: ${outcome.release} is ${outcome.commit}`, outcome);
      return EXIT.ok;
    case "skipped":
      ctx.emit({
        type: "warning",
        message: outcome.retryAt
          ? `not deploying ${outcome.commit} yet: ${outcome.reason}; next try from ${outcome.retryAt} (\`cutover pull --retry\` tries now)`
          : `not deploying ${outcome.commit} again: ${outcome.reason}; push a new commit, or run \`cutover pull --retry\``,
      });
      if (ctx.global.json) ctx.print(`skipped ${outcome.commit}`, outcome);
      return EXIT.ok;
    case "deployed":
    case "failed": {
      const { result } = outcome;
      if (outcome.action === "failed" && outcome.retryAt)
        ctx.emit({
          type: "warning",
          message: `this failure of ${outcome.commit} looks transient (${outcome.transient}); the next pull from ${outcome.retryAt} tries it again`,
        });
      ctx.print(deploySummary("deploy", result), {
        action: outcome.action,
        commit: outcome.commit,
        ...(outcome.action === "failed" && outcome.retryAt
          ? { transient: outcome.transient, retryAt: outcome.retryAt }
          : {}),
        ...result,
      });
      ctx.failed(result);
      return result.exitCode;
    }
  }
}

/** The engine's progress as log events: phases, warnings and failed steps (every step with --verbose). */
function engineLog(log: Log, verbose: boolean): Emit {
  return (event) => {
    if (event.type === "phase") log("info", "engine.phase", { phase: event.phase });
    else if (event.type === "warning" || event.type === "info")
      log(event.type === "warning" ? "warn" : "info", `engine.${event.type}`, {
        host: event.host,
        message: event.message,
      });
    else if (event.type === "step" && (event.status === "failed" || verbose))
      log(event.status === "failed" ? "warn" : "info", "engine.step", {
        host: event.host,
        step: event.step,
        status: event.status,
        ms: event.ms,
      });
    else if (event.type === "output" && verbose)
      log("info", "engine.output", { host: event.host, stream: event.stream, line: event.line });
  };
}

export async function agentCommand(
  ctx: CommandContext,
  stageName: string | undefined,
  opts: { listen?: string; port?: string },
): Promise<ExitCode> {
  const stage = ctx.stage(stageName);
  requireLocal(stage, "agent");
  const git = gitOf(stage, "agent");
  const configured = stage.agent ?? resolveAgent(undefined);
  const port = opts.port === undefined ? configured.port : Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw usageError(`--port: expected a port number (0-65535), got "${opts.port}"`);
  const settings = { ...configured, port, listen: opts.listen ?? configured.listen };
  if (ctx.global.dryRun) {
    const shown = {
      stage: stage.name,
      repository: git.shown,
      ref: git.ref,
      listen: `${settings.listen}:${settings.port}`,
      poll_s: settings.pollSeconds,
      webhooks: settings.secrets.length > 0,
      state_file: stateFile(stage),
    };
    ctx.print(
      Object.entries(shown)
        .map(([k, v]) => `${k}: ${v}`)
        .join("\n"),
      shown,
    );
    return EXIT.ok;
  }
  const redactor = new Redactor();
  redactor.add(stage.secrets.values);
  redactor.add(settings.secrets.map((s) => s.reveal()));
  const log = jsonLog(writer(process.stdout, redactor), writer(process.stderr, redactor));
  const stop = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (stop.signal.aborted)
      log("warn", "agent.signal", { signal: name, message: "already stopping safely" });
    else {
      log("info", "agent.signal", { signal: name });
      stop.abort();
    }
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    await runAgent({
      settings,
      deps: depsFor(stage, git, engineLog(log, ctx.global.verbose ?? false), `cutover ${ctx.argv.join(" ")}`),
      stage: stage.name,
      repository: git.shown,
      ref: git.ref,
      stateFile: stateFile(stage),
      stateRoot: stage.hosts[0]!.path,
      log,
      redact: (text) => redactor.text(text),
      stop: stop.signal,
    });
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
  return EXIT.ok;
}
