import { usageError } from "../errors.js";
import { componentNames, resolveComponent } from "./components.js";
import { findConfigFile, loadConfig } from "./load.js";
import { pickStage, type ResolvedStage, resolveStage, stageNames } from "./resolve.js";

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

/** The config file and its stage names, for a command whose first argument may be a stage or not. */
export function loadStageNames(options: { config?: string; cwd: string }): { file: string; names: string[] } {
  const file = findConfigFile(options.config, options.cwd);
  return { file, names: stageNames(loadConfig(file).config) };
}
