/** The public API: the CLI (and later the dashboard and agent) call only this. */

export { checkComponent, componentNames } from "./config/components.js";
export { detectFramework, initTemplate } from "./config/init.js";
export { findConfigFile, loadConfig, parseConfigText } from "./config/load.js";
export { loadStage } from "./config/load-stage.js";
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
