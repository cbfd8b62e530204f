import type { HookEntry, ResolvedHost, ResolvedStage } from "../config/resolve.js";
import type { HookName } from "../config/schema.js";
import { type Cmd, cmd } from "../shell/cmd.js";
import type { Layout } from "./layout.js";

/** Where and for what a hook runs. */
export interface HookScope {
  readonly stage: ResolvedStage;
  readonly host: ResolvedHost;
  /** The hosts of this run, in config order: a `once` hook runs on the first that matches. */
  readonly among: readonly ResolvedHost[];
  readonly layout: Layout;
  readonly release: string;
  readonly previous: string | undefined;
  readonly extraEnv?: Readonly<Record<string, string>>;
}

function runsOn(entry: HookEntry, host: ResolvedHost, among: readonly ResolvedHost[]): boolean {
  const matches = (h: ResolvedHost) => !entry.roles || entry.roles.some((r) => h.roles.includes(r));
  if (!matches(host)) return false;
  return !entry.once || among.find(matches)?.name === host.name;
}

export function hookEnv(scope: HookScope): Record<string, string> {
  const { stage, layout: l, release, previous } = scope;
  return {
    CUTOVER_RELEASE: release,
    CUTOVER_RELEASE_PATH: l.release(release),
    CUTOVER_DEPLOY_PATH: l.root,
    CUTOVER_PREVIOUS_RELEASE: previous ?? "",
    CUTOVER_STAGE: stage.name,
    CUTOVER_COMPONENT: stage.component ?? "",
    CUTOVER_HOST: scope.host.name,
    ...scope.extraEnv,
  };
}

/** The hook's commands for this host, each `sh -c` in `cwd` with the CUTOVER_* environment. */
export function hookCmds(scope: HookScope, hook: HookName, cwd: string): Cmd[] {
  const env = hookEnv(scope);
  return scope.stage.hooks[hook]
    .filter((h) => runsOn(h, scope.host, scope.among))
    .map((h) => cmd(["sh", "-c", h.run], { cwd, env }));
}
