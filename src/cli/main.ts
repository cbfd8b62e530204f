import { Command, CommanderError, Option } from "commander";
import { CutoverError, EXIT, type ExitCode } from "../errors.js";
import { colors as pc } from "../report/colors.js";
import { errorText } from "../report/error-text.js";
import { Redactor } from "../report/redact.js";
import type { CommandContext, GlobalOptions } from "./context.js";
import { writer } from "./output.js";
import { packageVersion } from "./package-info.js";
import { addSnapshotCommands } from "./snapshot-command.js";

const EXIT_CODES = `
Exit codes:
  0    success
  1    deploy or rollback failed; nothing switched, or every switched host was switched back
       (snapshot commands: failed, shared/ unchanged on that host)
  2    usage or configuration error; nothing was changed
  3    another run holds the lock
  4    the new release is live but a step after the switch failed (hook, records, cleanup)
       (unlock: the lock is cleared, but its history line could not be written)
  130  interrupted (Ctrl-C / SIGTERM)`;

/** Where each command's code is: loaded only when that command runs (the bundle is split here). */
const commands = () => import("./commands.js");
const deploying = () => import("./deploy-commands.js");
const completing = () => import("./completion-command.js");
const nothing = async () => undefined;

function build(argv: readonly string[], redactor: Redactor, done: (code: ExitCode) => void): Command {
  const program = new Command("cutover")
    .description("Zero-downtime deploys with an atomic switch and one-command rollback.")
    .option("-c, --config <file>", "config file (default: ./cutover.yaml)")
    .option("-n, --dry-run", "print the exact plan per host and change nothing")
    .option("--json", "print a machine-readable result on stdout (progress goes to stderr)")
    .option("-v, --verbose", "show every step and its output")
    .option("-q, --quiet", "show only warnings, errors and the result")
    .option("--component <name>", "only this component of the config's `components:` (default: each in turn)")
    .version(packageVersion(), "-V, --version", "print the version of cutover")
    .addHelpText("after", EXIT_CODES)
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({ outputError: (text) => writer(process.stderr, redactor)(pc.red(text)) });

  // The command being run, for --component: which commands run once per component, which need one.
  let invoked: { command: string; args: readonly string[]; hosts?: string } = { command: "", args: [] };
  program.hook("preAction", (_, command) => {
    const parent = command.parent && command.parent !== program ? `${command.parent.name()} ` : "";
    invoked = { command: `${parent}${command.name()}`, args: command.args, hosts: command.opts().hosts };
  });
  // --version and --help start without the config schema, yaml or the engine; deploy and rollback
  // without the other commands' code.
  const run =
    <M>(load: () => Promise<M>, action: (module: M, ctx: CommandContext) => Promise<ExitCode>) =>
    async () => {
      const global = program.opts<GlobalOptions>();
      const [{ runForComponents }, module] = await Promise.all([import("./components.js"), load()]);
      done(await runForComponents({ global, argv, redactor, ...invoked }, (ctx) => action(module, ctx)));
    };
  const hostsOption = new Option("--hosts <names>", "only these hosts (comma-separated names)");
  const lockWait = new Option(
    "--lock-wait <seconds>",
    "wait this long for another run's lock instead of failing",
  );

  program
    .command("init")
    .description("write a commented cutover.yaml, detecting Laravel, Symfony, WordPress or plain PHP")
    .option("--path <deploy-path>", "deploy path for the first stage (default: /var/www/<dir name>)")
    .option("--force", "overwrite an existing file")
    .action((opts) => run(commands, (c, ctx) => c.initCommand(ctx, opts))());
  program
    .command("deploy [stage]")
    .description("upload, build and switch to a new release on every host of the stage")
    .addOption(hostsOption)
    .option("--parallel <n>", "prepare at most this many hosts at a time (default: all)")
    .option(
      "--probe <url>",
      "run HTTP load against this URL during the deploy and report failures, mixed and stale responses",
    )
    .option("--probe-concurrency <n>", "keep-alive connections of the probe (default 16)")
    .option("--force", "allow php.fpm reset: reload where php-fpm kills running requests on reload")
    .option("--timings", "print where the time went, per phase and per host (in --json: timings)")
    .option(
      "--ref <ref>",
      "strategy: git: deploy this branch, tag or full commit id instead of the stage's ref",
    )
    .addOption(lockWait)
    .action((stage, opts) => run(deploying, (c, ctx) => c.deployCommand(ctx, stage, opts))());
  program
    .command("pull [stage]")
    .description(
      "on the server: deploy the configured ref of strategy: git if it moved since the live release (for cron); quiet when there is nothing to do",
    )
    .option("--retry", "deploy the ref's commit even if it failed or was rolled back before")
    .action((stage, opts) => run(commands, (c, ctx) => c.pullCommand(ctx, stage, opts))());
  program
    .command("agent [stage]")
    .description(
      "on the server: keep the stage at its configured ref: poll the repository and take signed push webhooks (GitHub, GitLab, Gitea); GET /status; JSON-lines log",
    )
    .option("--listen <address>", "address to bind (default: agent.listen, else 127.0.0.1)")
    .option("--port <port>", "port to bind, 0 = any free one (default: agent.port, else 9720)")
    .action((stage, opts) => run(commands, (c, ctx) => c.agentCommand(ctx, stage, opts))());
  program
    .command("server-config <server> [stage]")
    .description(
      "print a web server config (nginx or apache) for the stage's deploy path that never serves stale or mixed code, dotfiles or cutover.yaml",
    )
    .option("--listen <addr>", "listen address", "80")
    .option("--server-name <name>", "server_name / ServerName", "_")
    .option("--fpm <address>", "php-fpm socket path or host:port (default: the host's first php.fpm socket)")
    .option("--webroot <dir>", "web root inside a release (. for the release root itself)", "public")
    .option("--php <sapi>", "apache: fpm (proxy_fcgi) or mod_php (default: mod_php if php.mod_php is set)")
    .addOption(hostsOption)
    .action((server, stage, opts) =>
      run(commands, (c, ctx) => c.serverConfigCommand(ctx, server, stage, opts))(),
    );
  program
    .command("doctor [stage]")
    .description(
      "inspect every host read-only for settings that serve stale or mixed code, expose secrets or lose data; exit 1 if any",
    )
    .option(
      "--web-config <paths>",
      "comma-separated web server config files or directories to read, includes followed (default: what the installed and running nginx and Apache load: nginx -T, Apache's Includes)",
    )
    .addOption(hostsOption)
    .action((stage, opts) => run(commands, (c, ctx) => c.doctorCommand(ctx, stage, opts))());
  program
    .command("diff [stage] [from] [to]")
    .description(
      "files added, changed and removed between two releases (default: previous good → live), from their manifests",
    )
    .addOption(hostsOption)
    .action((stage, from, to, opts) =>
      run(commands, (c, ctx) => c.diffCommand(ctx, stage, from, to, opts))(),
    );
  program
    .command("rollback [stage]")
    .description("switch back to the last good release before the live one (or --to ID)")
    .option("--to <id>", "the release to switch to (in place, the live one too: its build is uploaded again)")
    .option("--force", "allow a release marked bad, and reset: reload where php-fpm kills running requests")
    .option(
      "--no-verify",
      "switch without first comparing the release with its manifest (by default a changed or missing file stops the rollback)",
    )
    .option(
      "--restore-shared",
      "after the switch back, restore the snapshot of shared/ taken before the live release was deployed",
    )
    .option("--timings", "print where the time went, per phase and per host (in --json: timings)")
    .addOption(hostsOption)
    .addOption(lockWait)
    .action((stage, opts) => run(deploying, (c, ctx) => c.rollbackCommand(ctx, stage, opts))());
  program
    .command("switch-back [stage]")
    .description(
      "strategy: blue-green: put the pool that served before the last switch back in service (no upload; health-checked first)",
    )
    .action((stage) => run(commands, (c, ctx) => c.switchBackCommand(ctx, stage))());
  program
    .command("releases [stage]")
    .description("list releases with their state on every host")
    .addOption(hostsOption)
    .action((stage, opts) => run(commands, (c, ctx) => c.releasesCommand(ctx, stage, opts))());
  program
    .command("history [stage]")
    .description("who deployed or rolled back what, when, and how it ended")
    .option("--limit <n>", "the newest entries to show (printed oldest first, as a journal)", "20")
    .addOption(hostsOption)
    .action((stage, opts) => run(commands, (c, ctx) => c.historyCommand(ctx, stage, opts))());
  program
    .command("log [stage]")
    .description(
      "the revision log: which release and commit went up or was rolled back to, by whom, when, how it ended",
    )
    .option("--limit <n>", "the newest deploys and rollbacks to show (printed newest first)", "20")
    .addOption(hostsOption)
    .action((stage, opts) => run(commands, (c, ctx) => c.logCommand(ctx, stage, opts))());
  program
    .command("unlock [stage]")
    .description("clear a lock left by a run that died (use --force if its holder may be alive)")
    .option("--force", "clear it even if the holder may still be running")
    .addOption(hostsOption)
    .action((stage, opts) => run(commands, (c, ctx) => c.unlockCommand(ctx, stage, opts))());
  program
    .command("cleanup [stage]")
    .description("remove leftovers of interrupted runs and releases beyond keep_releases")
    .addOption(hostsOption)
    .addOption(lockWait)
    .action((stage, opts) => run(commands, (c, ctx) => c.cleanupCommand(ctx, stage, opts))());
  program
    .command("adopt [stage]")
    .description(
      "take over releases made by Capistrano, Deployer, Envoyer or by hand: record them as rollback targets; moves nothing that serves",
    )
    .option("--migrate", "turn a `current` that is a real directory into a release, atomically (no downtime)")
    .addOption(hostsOption)
    .addOption(lockWait)
    .action((stage, opts) => run(commands, (c, ctx) => c.adoptCommand(ctx, stage, opts))());
  program
    .command("verify [stage]")
    .description("recompute the live release's checksum on every host and compare it")
    .addOption(hostsOption)
    .action((stage, opts) => run(commands, (c, ctx) => c.verifyCommand(ctx, stage, opts))());
  addSnapshotCommands(program, (action) => run(nothing, (_, ctx) => action(ctx)));
  program
    .command("completion <shell>")
    .description('print a shell completion script (bash or zsh): eval "$(cutover completion bash)"')
    .action((shell) => run(completing, (c, ctx) => c.completionCommand(ctx, shell, program))());
  program
    .command("__stages", { hidden: true })
    .description("the config's stage names, for completion")
    .action(() => run(completing, (c, ctx) => c.namesCommand(ctx, "stages"))());
  program
    .command("__components", { hidden: true })
    .description("the config's component names, for completion")
    .action(() => run(completing, (c, ctx) => c.namesCommand(ctx, "components"))());
  return program;
}

/** The only place that turns errors into exit codes and one-line messages. */
export async function main(argv: readonly string[]): Promise<ExitCode> {
  let code: ExitCode = EXIT.ok;
  const redactor = new Redactor();
  const program = build(argv, redactor, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (error) {
    const json = program.opts<GlobalOptions>().json ?? false;
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return EXIT.ok;
      // Commander printed the message on stderr; a script reading --json still gets a document.
      const usage = new CutoverError("usage", error.message.replace(/^error: /, ""), {
        exitCode: EXIT.usage,
      });
      if (json) writer(process.stdout, redactor)(jsonError(usage));
      return EXIT.usage;
    }
    return report(error, json, redactor);
  }
}

function report(error: unknown, json: boolean, redactor: Redactor): ExitCode {
  const [out, err] = [writer(process.stdout, redactor), writer(process.stderr, redactor)];
  if (error instanceof CutoverError) {
    const { state, fix, detail } = error.details;
    err(errorText(error.message, { detail, state, fix }));
    if (json) out(jsonError(error));
    return error.exitCode;
  }
  err(
    `${pc.red("internal error:")} ${(error as Error)?.stack ?? String(error)}\nplease report this as a bug\n`,
  );
  return EXIT.failed;
}

function jsonError(error: CutoverError): string {
  const { state, fix, detail, partial } = error.details;
  const body = {
    ok: false,
    error: { code: error.code, message: error.message, state, fix, detail },
    ...partial,
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}
