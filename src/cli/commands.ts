import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadStageNames } from "../config/load-stage.js";
import { diffReleases } from "../engine/diff.js";
import { doctor } from "../engine/doctor.js";
import { selectHosts } from "../engine/targets.js";
import type { ExitCode } from "../errors.js";
import { EXIT, initTemplate, listReleases, readHistory, usageError, verify } from "../index.js";
import { apacheConfig, nginxConfig } from "../integrations/web/server-config.js";
import { nameText } from "../report/colors.js";
import { historyTable, releasesTable, verifyTable } from "../report/summary.js";
import type { CommandContext } from "./context.js";
import { checkReadable, commaList, hostList, positiveInt } from "./options.js";
import { schemaReference } from "./package-info.js";
import { configHost } from "./server-config-host.js";

/** unlock, cleanup and adopt: the commands that tidy up or take over a deploy path. */
export { adoptCommand, cleanupCommand, unlockCommand } from "./housekeeping.js";
export { logCommand } from "./log-command.js";
/** pull and agent: the server keeps itself at a ref of the repository. */
export { agentCommand, pullCommand } from "./pull-command.js";

/** The web root is joined to DEPLOY_PATH/current: one outside the release would serve the deploy path itself. */
function checkWebroot(webroot: string): void {
  const inside = path.posix.normalize(`${webroot}/`);
  if (webroot === "" || path.posix.isAbsolute(webroot) || inside === "../" || inside.startsWith("../"))
    throw usageError(
      `server-config: --webroot ${JSON.stringify(webroot)} is not a directory inside the release`,
      "pass a path relative to the release root, such as public (the default) or web, or . for the release root itself",
    );
}

export async function serverConfigCommand(
  ctx: CommandContext,
  server: string,
  stageName: string | undefined,
  opts: { listen: string; serverName: string; fpm?: string; webroot: string; php?: string; hosts?: string },
): Promise<ExitCode> {
  if (server !== "nginx" && server !== "apache")
    throw usageError(`server-config: unknown server "${server}"`, "use nginx or apache");
  checkWebroot(opts.webroot);
  const stage = ctx.stage(stageName);
  const php = opts.php ?? (stage.php.modPhp ? "mod_php" : "fpm");
  if (php !== "fpm" && php !== "mod_php")
    throw usageError(`server-config: --php must be fpm or mod_php, got "${php}"`);
  if (php === "mod_php" && server === "nginx")
    throw usageError("server-config: nginx has no mod_php", "use --php fpm, or server-config apache");
  const host = configHost(stage, hostList(opts.hosts), opts.fpm, server === "nginx" || php === "fpm");
  const input = {
    deployPath: host.deployPath,
    webroot: opts.webroot,
    listen: opts.listen,
    serverName: opts.serverName,
  };
  const fpmAddress = () => {
    const fpm = host.fpm;
    if (fpm === undefined)
      throw usageError(
        "server-config: no php-fpm address",
        "pass --fpm /run/php/php8.2-fpm.sock, or set php.fpm in cutover.yaml",
      );
    return fpm;
  };
  // mod_proxy_fcgi refuses to forward a script path holding ? or a control character (AH10414):
  // such a vhost would answer 403 to every PHP request.
  if (
    server === "apache" &&
    php === "fpm" &&
    [...input.deployPath].some((c) => c === "?" || c < " " || c === "\x7f")
  )
    throw usageError(
      `server-config: Apache's mod_proxy_fcgi refuses script paths holding "?" or control characters, and ${JSON.stringify(input.deployPath)} has one`,
      "deploy to a path without them, or use --php mod_php or server-config nginx",
    );
  const text =
    server === "nginx"
      ? nginxConfig(input, fpmAddress())
      : apacheConfig(input, php === "mod_php" ? { sapi: "mod_php" } : { sapi: "fpm", fpm: fpmAddress() });
  ctx.print(text.trimEnd(), { server, config: text });
  return EXIT.ok;
}

export async function doctorCommand(
  ctx: CommandContext,
  stageName: string | undefined,
  opts: { webConfig?: string; hosts?: string },
): Promise<ExitCode> {
  const stage = ctx.stage(stageName);
  const hosts = hostList(opts.hosts);
  const configPaths = commaList(
    opts.webConfig,
    "--web-config",
    "paths",
    "give config files or directories (--web-config /etc/nginx/sites-enabled), or leave --web-config out to read what the installed nginx and Apache load",
  );
  // Local hosts read the files on this machine: check them before any host is asked. (An SSH host
  // reads them on the host.)
  if (configPaths && selectHosts(stage, hosts).every((h) => !h.ssh))
    checkReadable(
      configPaths,
      "--web-config",
      "give existing, readable config files or directories, or leave --web-config out to read what the installed nginx and Apache load",
    );
  const findings = await doctor(stage, { hosts, configPaths });
  const human =
    findings.length === 0
      ? "no problems found"
      : findings.map((f) => `${f.level}: ${f.host}: ${f.message}\n  fix: ${f.fix}`).join("\n");
  ctx.print(human, findings);
  return findings.some((f) => f.level === "error") ? EXIT.failed : EXIT.ok;
}

export async function diffCommand(
  ctx: CommandContext,
  stageName: string | undefined,
  from: string | undefined,
  to: string | undefined,
  opts: { hosts?: string },
): Promise<ExitCode> {
  // `diff FROM [TO]`: with one stage its name can be left out, so a first argument that is no
  // stage name is the first release.
  if (stageName !== undefined && to === undefined) {
    const { file, names } = loadStageNames({ config: ctx.global.config, cwd: process.cwd() });
    if (!names.includes(stageName)) {
      if (names.length > 1)
        throw usageError(
          `${file}: no stage "${stageName}" (stages: ${names.join(", ")})`,
          `with several stages, give the stage name before FROM TO: cutover diff ${names[0]} ${[stageName, from].filter(Boolean).join(" ")}`,
        );
      [stageName, from, to] = [undefined, stageName, from];
    }
  }
  const diffs = await diffReleases(ctx.stage(stageName), { hosts: hostList(opts.hosts), from, to });
  const human = diffs
    .map((d) => {
      const lines = [`${d.host}: ${d.from} → ${d.to}`];
      const groups: [string, readonly string[]][] = [
        ["added", d.added],
        ["modified", d.modified],
        ["removed", d.removed],
        ["mode changed", d.mode],
        ["symlink changed", d.symlink],
      ];
      for (const [label, paths] of groups)
        for (const p of paths) lines.push(`  ${label.padEnd(15)} ${nameText(p)}`);
      if (lines.length === 1) lines.push("  no differences");
      return lines.join("\n");
    })
    .join("\n");
  ctx.print(human, diffs);
  return EXIT.ok;
}

export async function releasesCommand(
  ctx: CommandContext,
  stageName: string | undefined,
  opts: { hosts?: string },
): Promise<ExitCode> {
  const rows = await listReleases(ctx.stage(stageName), hostList(opts.hosts));
  ctx.print(releasesTable(rows), rows);
  return EXIT.ok;
}

export async function historyCommand(
  ctx: CommandContext,
  stageName: string | undefined,
  opts: { limit: string; hosts?: string },
): Promise<ExitCode> {
  const limit = positiveInt(opts.limit, "--limit", 20);
  const entries = await readHistory(ctx.stage(stageName), limit, hostList(opts.hosts), ctx.emit);
  ctx.print(historyTable(entries), entries);
  return EXIT.ok;
}

export async function verifyCommand(
  ctx: CommandContext,
  stageName: string | undefined,
  opts: { hosts?: string },
): Promise<ExitCode> {
  const rows = await verify(ctx.stage(stageName), hostList(opts.hosts));
  ctx.print(verifyTable(rows), rows);
  return rows.every((r) => r.ok) ? EXIT.ok : EXIT.failed;
}

export async function initCommand(
  ctx: CommandContext,
  opts: { path?: string; force?: boolean },
): Promise<ExitCode> {
  const file = ctx.global.config ? path.resolve(ctx.global.config) : path.resolve("cutover.yaml");
  if (existsSync(file) && !opts.force)
    throw usageError(`${file} already exists`, "pass --force to overwrite it");
  // The app is the config's directory (`source: .`), wherever init was run from.
  const deployPath = opts.path ?? `/var/www/${path.basename(path.dirname(file))}`;
  if (!deployPath.startsWith("/")) throw usageError(`--path: "${deployPath}" must be absolute`);
  const { framework, text } = initTemplate(
    path.dirname(file),
    deployPath,
    schemaReference(path.dirname(file)),
  );
  if (ctx.global.dryRun) {
    ctx.print(text, { file, framework, text });
    return EXIT.ok;
  }
  try {
    writeFileSync(file, text);
  } catch (error) {
    // A -c into a missing directory (or a directory, or no permission): one line, not a crash.
    const e = error as NodeJS.ErrnoException;
    const why = e.code === "ENOENT" ? `directory ${path.dirname(file)} does not exist` : e.message;
    throw usageError(
      `cannot write ${file}: ${why}`,
      "pass -c a file path in an existing, writable directory",
    );
  }
  ctx.print(`wrote ${file} (detected ${framework}); review it, then run \`cutover deploy --dry-run\``, {
    file,
    framework,
  });
  return EXIT.ok;
}
export { switchBackCommand } from "./blue-green.js";
