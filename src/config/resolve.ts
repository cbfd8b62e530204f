import { statSync } from "node:fs";
import path from "node:path";
import { configError } from "../errors.js";
import { HOOK_NAMES, type HookName, type ParsedConfig, type ParsedSettings } from "./schema.js";

export interface WritableDir {
  readonly path: string;
  readonly mode: string;
  readonly owner?: string;
  readonly group?: string;
}

export interface ResolvedHost {
  /** Unique within the stage; used in output, history and --hosts. */
  readonly name: string;
  /** Absolute deploy path on the target. */
  readonly path: string;
}

/** The configuration the code uses: every default applied, every path absolute, nothing optional. */
export interface ResolvedStage {
  readonly name: string;
  readonly configFile: string;
  readonly source: string;
  readonly exclude: readonly string[];
  readonly keepReleases: number;
  readonly sharedDirs: readonly string[];
  readonly sharedFiles: readonly string[];
  readonly writableDirs: readonly WritableDir[];
  readonly hooks: Readonly<Record<HookName, readonly string[]>>;
  readonly hosts: readonly ResolvedHost[];
}

export const DEFAULTS = {
  exclude: [".git", ".cutover"],
  keepReleases: 5,
  writableMode: "0775",
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

export function resolveStage(config: ParsedConfig, file: string, stageName: string): ResolvedStage {
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

  const hosts = stage.hosts.map((h, i) => ({
    name: h.name ?? (stage.hosts.length === 1 ? "local" : `local-${i + 1}`),
    path: path.normalize(h.path).replace(/(.)\/$/, "$1"),
  }));
  const seen = new Set<string>();
  for (const h of hosts) {
    if (seen.has(h.name))
      throw configError(
        `${where("hosts")}: host name "${h.name}" is used twice`,
        "give every host a unique `name:`",
      );
    seen.add(h.name);
  }

  const sharedDirs = merged.shared_dirs ?? [];
  const sharedFiles = merged.shared_files ?? [];
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

  const hooks = Object.fromEntries(HOOK_NAMES.map((name) => [name, merged.hooks?.[name] ?? []])) as Record<
    HookName,
    string[]
  >;

  return {
    name: stageName,
    configFile: file,
    source,
    exclude: merged.exclude ?? [...DEFAULTS.exclude],
    keepReleases: merged.keep_releases ?? DEFAULTS.keepReleases,
    sharedDirs,
    sharedFiles,
    writableDirs,
    hooks,
    hosts,
  };
}

function pickSettings(s: ParsedSettings): ParsedSettings {
  const { source, exclude, keep_releases, shared_dirs, shared_files, writable_dirs, hooks } = s;
  return Object.fromEntries(
    Object.entries({
      source,
      exclude,
      keep_releases,
      shared_dirs,
      shared_files,
      writable_dirs,
      hooks,
    }).filter(([, v]) => v !== undefined),
  ) as ParsedSettings;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
