import { configError } from "../errors.js";
import type { ResolvedStage } from "./resolve.js";
import type { ParsedSettings } from "./schema.js";

/**
 * With strategy: in-place there is no release directory on the host before the switch: the upload
 * is the switch. Steps that run in the new release before it goes live have nowhere to run, so
 * they are refused rather than silently skipped.
 */
export function refuseInPlaceConflicts(merged: ParsedSettings, file: string): void {
  if (merged.strategy !== "in-place") return;
  if ((merged.build?.local.length ?? 0) > 0)
    throw configError(
      `${file}: build.local is not supported with strategy: in-place`,
      "use strategy: releases or git, or build before `cutover deploy`",
    );
  const conflicts: [string, boolean][] = [
    ["hooks.build", (merged.hooks?.build?.length ?? 0) > 0],
    ["hooks.before_switch", (merged.hooks?.before_switch?.length ?? 0) > 0],
    ["smoke", (merged.smoke?.commands?.length ?? 0) + (merged.smoke?.http?.length ?? 0) > 0],
    ["php.warmup", (merged.php?.warmup?.length ?? 0) > 0],
  ];
  for (const [key, set] of conflicts) {
    if (!set) continue;
    throw configError(
      `${file}: ${key} cannot run with strategy: in-place (nothing of the new build is on the host before it goes live)`,
      `build on this machine before \`cutover deploy\` and drop ${key}, or use strategy: releases`,
    );
  }
}

const RELEASES_ONLY: Readonly<Record<string, string>> = {
  cleanup:
    "there are no release directories on the hosts; deploy removes builds beyond keep_builds on this machine",
  verify:
    "there is no sealed release directory to recompute; compare the live directory with its build instead",
  diff: "in-place releases have no manifests on the hosts",
  adopt: "adopting makes `current` a symlink, which in-place deploys refuse",
};

/** Commands that read or rewrite the releases layout say so instead of acting on an in-place path. */
export function requireReleasesStrategy(
  stage: ResolvedStage,
  command: keyof typeof RELEASES_ONLY & string,
): void {
  if (stage.strategy !== "in-place") return;
  throw configError(
    `${stage.configFile}: \`cutover ${command}\` does not apply to strategy: in-place (stage ${stage.name}): ${RELEASES_ONLY[command]}`,
    "use `cutover releases` and `cutover history` to see what is live",
  );
}
