/** The public API: the CLI (and later the dashboard and agent) call only this. */
export { detectFramework, initTemplate } from "./config/init.js";
export { findConfigFile, loadConfig, parseConfigText } from "./config/load.js";
export { pickStage, type ResolvedStage, resolveStage } from "./config/resolve.js";
export { type AdoptRow, adopt } from "./engine/adopt.js";
export { type DeployOptions, deploy } from "./engine/deploy.js";
export { type DryRun, dryRunDeploy, dryRunRollback } from "./engine/dry-run.js";
export type { Emit, EngineEvent } from "./engine/events.js";
export { listReleases, type ReleaseRow, readHistory, type VerifyRow, verify } from "./engine/inspect.js";
export { cleanup, type UnlockRow, unlock } from "./engine/maintenance.js";
export type { DeployResult, HostOutcome } from "./engine/outcome.js";
export { readRevisionLog } from "./engine/revision-log.js";
export { type RollbackOptions, rollback } from "./engine/rollback.js";
export { CutoverError, EXIT, usageError } from "./errors.js";
export { type ResolvedRef, resolveRef } from "./git/resolve.js";
export type { LogRow } from "./plan/revision-log.js";

import { componentNames, resolveComponent } from "./config/components.js";
import { findConfigFile, loadConfig } from "./config/load.js";
import { pickStage, type ResolvedStage, resolveStage } from "./config/resolve.js";
import { usageError } from "./errors.js";

export { checkComponent, componentNames } from "./config/components.js";

/**
 * Finds, validates and resolves the config for one stage (the only one, when none is named), or
 * for one component of it when the config has `components:` (the only one, when none is named).
 * `onSecrets` learns the values taken from the environment before anything can print them.
 */
export function loadStage(options: {
  config?: string;
  cwd: string;
  stage?: string;
  component?: string;
  onSecrets?: (secrets: readonly string[]) => void;
}): ResolvedStage {
  const file = findConfigFile(options.config, options.cwd);
  const { config, secrets } = loadConfig(file);
  options.onSecrets?.(secrets);
  const stage = pickStage(config, file, options.stage);
  const parts = componentNames(config);
  const component = options.component ?? (parts.length === 1 ? parts[0] : undefined);
  if (component !== undefined) return resolveComponent(config, file, stage, component, secrets);
  if (parts.length > 0)
    throw usageError(
      `${file} defines ${parts.length} components; name one: ${parts.join(", ")}`,
      `e.g. --component ${parts[0]}`,
    );
  return resolveStage(config, file, stage, secrets);
}
