import { statSync } from "node:fs";
import path from "node:path";
import { configError, usageError } from "../errors.js";
import { refuseDeployPath } from "./deploy-path.js";
import { hostName, resolveStage } from "./resolve.js";
import type { ParsedComponent, ParsedConfig } from "./schema.js";
import type { ResolvedStage } from "./types.js";

/**
 * Parts (`components:`): each (stage, part) resolves to a ResolvedStage of its own whose hosts'
 * paths are the part's deploy paths, so the one engine deploys, rolls back and cleans it up with
 * its own releases, current, shared/ and .cutover/ (lock, history, metadata), and never another's.
 */

export function componentNames(config: ParsedConfig): string[] {
  return Object.keys(config.components ?? {});
}

/** Checks a name given with --component against the config; a usage error lists the known ones. */
export function checkComponent(config: ParsedConfig, file: string, wanted: string): void {
  const names = componentNames(config);
  if (names.length === 0)
    throw usageError(
      `--component ${wanted}: ${file} defines no components`,
      "leave out --component, or add a `components:` map to the config",
    );
  if (!names.includes(wanted))
    throw usageError(
      `--component: no component "${wanted}" in ${file} (components: ${names.join(", ")})`,
      "pass one of the component names above",
    );
}

/** The stage's unit for one part: its settings over the stage's, its own source and deploy paths. */
export function resolveComponent(
  config: ParsedConfig,
  file: string,
  stageName: string,
  name: string,
  envSecrets: readonly string[] = [],
): ResolvedStage {
  checkComponent(config, file, name);
  const part = config.components![name]!;
  const stage = config.stages[stageName];
  if (!stage) throw configError(`${file}: no stage "${stageName}"`);
  checkPathsApart(config, file, stageName);
  const { path: _path, roles, source, ...settings } = part;
  const stageSource = path.resolve(path.dirname(file), stage.source ?? config.source ?? ".");
  // strategy: git ships from the repository (repository_path picks the part): no local directory needed.
  const fromGit = (part.strategy ?? stage.strategy ?? config.strategy) === "git" && source === undefined;
  const partSource = fromGit ? stageSource : path.resolve(stageSource, source ?? name);
  if (!isDirectory(partSource))
    throw configError(
      `${file}: components.${name}.source: ${partSource} is not a directory`,
      `set components.${name}.source to the part's directory, relative to the stage's source (default: "${name}")`,
    );
  const hosts = selectedHosts(config, stageName, part).map(({ h, name: hostName }) => ({
    ...h,
    name: hostName,
    path: partPath(h.path, part, name),
  }));
  if (hosts.length === 0)
    throw configError(
      `${file}: components.${name}.roles: no host of stage ${stageName} has a role of ${roles!.join(", ")}`,
      `give a host of ${stageName} one of these roles, or change the component's roles`,
    );
  const defined = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
  const unit = resolveStage(
    { ...config, stages: { [stageName]: { ...stage, ...defined, source: partSource, hosts } } },
    file,
    stageName,
    envSecrets,
  );
  const others = (host: string) =>
    Object.entries(config.components!).flatMap(([other, p]) =>
      other === name
        ? []
        : selectedHosts(config, stageName, p).flatMap((s) =>
            s.name === host ? [partPath(s.h.path, p, other)] : [],
          ),
    );
  return { ...unit, component: name, hosts: unit.hosts.map((h) => ({ ...h, apart: others(h.name) })) };
}

/** The stage's hosts a part deploys to (those with one of its roles), keeping their stage-wide names. */
function selectedHosts(config: ParsedConfig, stageName: string, part: ParsedComponent) {
  const hosts = config.stages[stageName]!.hosts;
  return hosts
    .map((h, i) => ({ h, name: hostName(h, i, hosts.length) }))
    .filter(({ h }) => !part.roles || part.roles.some((r) => h.roles?.includes(r)));
}

/** `path:` relative to the host's deploy path (default: the part's name), or absolute. */
function partPath(hostPath: string, part: ParsedComponent, name: string): string {
  return path.posix.normalize(path.posix.resolve(hostPath, part.path ?? name)).replace(/(.)\/$/, "$1");
}

/** Two parts in one directory (or one inside another) would share a lock, releases and shared/. */
function checkPathsApart(config: ParsedConfig, file: string, stageName: string): void {
  const seen = new Map<string, { part: string; path: string }[]>();
  for (const [name, part] of Object.entries(config.components ?? {})) {
    for (const { h, name: host } of selectedHosts(config, stageName, part)) {
      const mine = partPath(h.path, part, name);
      // Checked here too, so the error names the component's key and not the host's own path (a
      // component named `shared` ends in a name of cutover's own layout).
      const refusal = refuseDeployPath(mine);
      if (refusal)
        throw configError(
          `${file}: components.${name}.path: ${mine} on host ${host} ${refusal}`,
          `set components.${name}.path to a directory of its own: no system directory, and not named current, releases, shared or .cutover`,
        );
      const others = seen.get(host) ?? [];
      const clash = others.find(
        (o) => o.path === mine || mine.startsWith(`${o.path}/`) || o.path.startsWith(`${mine}/`),
      );
      if (clash)
        throw configError(
          `${file}: components.${name}.path: ${mine} on host ${host} overlaps component ${clash.part} (${clash.path})`,
          "give each component a deploy path of its own, none inside another",
        );
      seen.set(host, [...others, { part: name, path: mine }]);
    }
  }
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
