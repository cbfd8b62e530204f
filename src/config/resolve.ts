import { statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { configError } from "../errors.js";
import { resolveAgent } from "./agent-settings.js";
import { resolveBalancer, resolveBlueGreen } from "./balancer.js";
import { checkHostPaths } from "./deploy-path.js";
import { resolveGitSource } from "./git-source.js";
import { refuseInPlaceConflicts } from "./in-place-rules.js";
import { resolveChecks } from "./resolve-checks.js";
import { HOOK_NAMES, type HookName, type ParsedConfig, type ParsedSettings } from "./schema.js";
import { stageSecrets } from "./secrets.js";
import {
  type HookEntry,
  type ResolvedHost,
  type ResolvedStage,
  type Rolling,
  SecretValues,
  type SshAddress,
} from "./types.js";

export * from "./types.js";

export const DEFAULTS = {
  exclude: [".git", ".cutover"],
  keepReleases: 5,
  keepBuilds: 3,
  writableMode: "0775",
  connectTimeoutSeconds: 10,
  commandTimeoutSeconds: 3600,
  keepSnapshots: 5,
} as const;

export function stageNames(config: ParsedConfig): string[] {
  return Object.keys(config.stages ?? {});
}

/** Picks the stage: the one named, or the only one there is. */
export function pickStage(config: ParsedConfig, file: string, wanted: string | undefined): string {
  const names = stageNames(config);
  if (names.length === 0) {
    throw configError(
      `${file}: no stages defined`,
      "add a `stages:` map with at least one stage and its hosts",
    );
  }
  if (wanted === undefined) {
    if (names.length === 1) return names[0]!;
    throw configError(
      `${file} defines ${names.length} stages; name one: ${names.join(", ")}`,
      `e.g. \`cutover deploy ${names[0]}\``,
    );
  }
  if (!names.includes(wanted)) {
    throw configError(
      `${file}: no stage "${wanted}" (stages: ${names.join(", ")})`,
      "pass one of the stage names above",
    );
  }
  return wanted;
}

/** `envSecrets`: the values interpolated from the environment (they join the stage's own secrets). */
export function resolveStage(
  config: ParsedConfig,
  file: string,
  stageName: string,
  envSecrets: readonly string[] = [],
): ResolvedStage {
  const stage = config.stages?.[stageName];
  if (!stage) throw configError(`${file}: no stage "${stageName}"`);
  const where = (key: string) => `${file}: stages.${stageName}.${key}`;
  const merged: ParsedSettings = { ...pickSettings(config), ...pickSettings(stage) };

  const configDir = path.dirname(file);
  const source = path.resolve(configDir, merged.source ?? ".");
  if (!isDirectory(source)) {
    throw configError(
      `${file}: source: ${source} is not a directory`,
      "set `source:` to the app directory, relative to the config file",
    );
  }

  const hosts: ResolvedHost[] = stage.hosts.map((h, i) => {
    const ssh: SshAddress | undefined = h.host
      ? {
          host: h.host,
          user: h.user,
          port: h.port,
          identityFile: h.identity_file ? expandPath(configDir, h.identity_file) : undefined,
          options: h.ssh_options ?? [],
        }
      : undefined;
    return {
      name: hostName(h, i, stage.hosts.length),
      path: path.posix.normalize(h.path).replace(/(.)\/$/, "$1"),
      ssh,
      roles: h.roles ?? [],
    };
  });
  const seen = new Set<string>();
  for (const h of hosts) {
    if (seen.has(h.name))
      throw configError(
        `${where("hosts")}: host name "${h.name}" is used twice`,
        "give every host a unique `name:`",
      );
    seen.add(h.name);
  }
  checkHostPaths(hosts, where);

  const sharedEntries = [...(merged.shared_dirs ?? []), ...(merged.shared_files ?? [])];
  const pathOf = (e: (typeof sharedEntries)[number]) => (typeof e === "string" ? e : e.path);
  const sharedDirs = (merged.shared_dirs ?? []).map(pathOf);
  const sharedFiles = (merged.shared_files ?? []).map(pathOf);
  const sharedAccess = new Map(
    sharedEntries.flatMap((e) =>
      typeof e === "string" || (!e.mode && !e.owner && !e.group)
        ? []
        : [[e.path, { mode: e.mode, owner: e.owner, group: e.group }] as const],
    ),
  );
  const sharedAll = [...sharedDirs, ...sharedFiles];
  for (const [i, a] of sharedAll.entries()) {
    for (const b of sharedAll.slice(i + 1)) {
      if (a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`)) {
        throw configError(
          `${file}: shared paths "${a}" and "${b}" overlap`,
          "list each shared path once, and none inside another",
        );
      }
    }
  }

  const writableDirs = (merged.writable_dirs ?? []).map((w) =>
    typeof w === "string"
      ? { path: w, mode: DEFAULTS.writableMode }
      : { ...w, mode: w.mode ?? DEFAULTS.writableMode },
  );
  for (const w of writableDirs) {
    const clash = sharedAll.find((s) => s === w.path || w.path.startsWith(`${s}/`));
    if (clash)
      throw configError(
        `${file}: writable dir "${w.path}" is inside shared path "${clash}"`,
        "shared paths are already writable; drop it from writable_dirs",
      );
  }

  if ((merged.smoke?.http?.length ?? 0) > 0 && (merged.php?.fpm?.length ?? 0) === 0) {
    throw configError(
      `${file}: smoke.http needs a php-fpm pool to send the requests to`,
      "set php.fpm: [{ socket: ... }]",
    );
  }
  if (merged.php?.fpm?.some((p) => p.reset === "reload") && !merged.php.reload_command) {
    throw configError(
      `${file}: php.fpm uses reset: reload but php.reload_command is not set`,
      "set php.reload_command (e.g. the command that sends USR2 to the php-fpm master)",
    );
  }
  if (merged.php?.mod_php && !merged.php.reload_command) {
    throw configError(
      `${file}: php.mod_php is true but php.reload_command is not set`,
      'set php.reload_command: "apachectl graceful" (mod_php keeps OPcache in Apache\'s children)',
    );
  }
  refuseInPlaceConflicts(merged, file);
  const hooks = Object.fromEntries(
    HOOK_NAMES.map((name) => [
      name,
      (merged.hooks?.[name] ?? []).map((h) => (typeof h === "string" ? { run: h } : h)),
    ]),
  ) as Record<HookName, HookEntry[]>;
  const rolling = merged.rolling
    ? { batch: merged.rolling.batch as Rolling["batch"], pauseSeconds: merged.rolling.pause_seconds ?? 0 }
    : undefined;

  const resolved: Omit<ResolvedStage, "secrets"> = {
    name: stageName,
    configFile: file,
    source,
    exclude: [...(merged.exclude ?? DEFAULTS.exclude), ...configFileExclude(file, source)],
    keepReleases: merged.keep_releases ?? DEFAULTS.keepReleases,
    // Blue-green hosts keep releases like any other; the pools and the balancer do the rest.
    strategy: merged.strategy === "blue-green" ? "releases" : (merged.strategy ?? "releases"),
    git: resolveGitSource(merged, file, configDir),
    buildLocal: merged.build?.local ?? [],
    keepBuilds: merged.keep_builds ?? DEFAULTS.keepBuilds,
    sharedDirs,
    sharedFiles,
    writableDirs,
    sharedAccess,
    hooks,
    hosts,
    ssh: {
      connectTimeoutSeconds: merged.ssh?.connect_timeout ?? DEFAULTS.connectTimeoutSeconds,
      acceptNewHostKeys: merged.ssh?.accept_new_host_keys ?? false,
      persistSeconds: merged.ssh?.persist ?? 0,
    },
    commandTimeoutSeconds: merged.command_timeout ?? DEFAULTS.commandTimeoutSeconds,
    uploadCompare: merged.upload?.compare ?? "mtime",
    ...resolveChecks(merged),
    php: {
      binary: merged.php?.binary ?? "php",
      pools: (merged.php?.fpm ?? []).map((p) => ({ address: p.socket, reset: p.reset ?? "opcache" })),
      reloadCommand: merged.php?.reload_command,
      modPhp: merged.php?.mod_php ?? false,
      warmup: merged.php?.warmup ?? [],
      forbidCurrentPaths: merged.php?.forbid_current_paths ?? false,
      verifyRequests: merged.php?.verify_requests ?? 8,
      resetWaitSeconds: merged.php?.reset_wait ?? 15,
    },
    rolling,
    balancer: resolveBalancer(merged.balancer, hosts, where, (p) => expandPath(configDir, p)),
    blueGreen: resolveBlueGreen(merged, hosts, where),
    rollbackOn: merged.rollback_on ?? [],
    snapshots: {
      beforeDeploy: merged.snapshots?.before_deploy ?? false,
      keep: merged.snapshots?.keep ?? DEFAULTS.keepSnapshots,
    },
    agent: resolveAgent(merged.agent),
  };
  return {
    ...resolved,
    secrets: new SecretValues([...new Set([...envSecrets, ...stageSecrets(resolved)])]),
  };
}

/** A host's name in output and for --hosts: its `name`, its address, or local / local-N. */
export function hostName(h: { name?: string; host?: string }, index: number, count: number): string {
  return h.name ?? h.host ?? (count === 1 ? "local" : `local-${index + 1}`);
}

/**
 * The config file itself never ships when it lies inside the source: it names every host and holds
 * webhook secrets, and a web root at the release root would serve it. An anchored rsync pattern.
 */
function configFileExclude(file: string, source: string): string[] {
  const relative = path.relative(source, file);
  if (relative === ".." || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) return [];
  return [
    `/${relative
      .split(path.sep)
      .join("/")
      .replace(/[[\]*?\\]/g, "\\$&")}`,
  ];
}

function pickSettings(s: ParsedSettings): ParsedSettings {
  const { hosts: _hosts, ...settings } = s as ParsedSettings & { hosts?: unknown; stages?: unknown };
  const {
    stages: _stages,
    components: _components,
    ...rest
  } = settings as ParsedSettings & { stages?: unknown; components?: unknown };
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as ParsedSettings;
}

/** `~/x` is the user's home, as in ssh_config; anything else is relative to the config file. */
function expandPath(configDir: string, p: string): string {
  if (p === "~" || p.startsWith("~/")) return path.join(os.homedir(), p.slice(1));
  return path.resolve(configDir, p);
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
