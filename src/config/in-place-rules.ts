import { configError } from "../errors.js";
import type { ParsedSettings } from "./schema.js";

/**
 * With strategy: in-place there is no release directory on the host before the switch: the upload
 * is the switch. Steps that run in the new release before it goes live have nowhere to run, so
 * they are refused rather than silently skipped.
 */
export function refuseInPlaceConflicts(merged: ParsedSettings, file: string): void {
  if (merged.strategy !== "in-place") return;
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
