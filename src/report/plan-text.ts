import type { DryRun } from "../engine/dry-run.js";
import type { Step } from "../plan/steps.js";
import { renderCmd } from "../shell/cmd.js";
import { quoteArgv } from "../shell/quote.js";
import { rsyncArgs } from "../transport/rsync.js";

function stepLines(step: Step): string[] {
  switch (step.kind) {
    case "run":
    case "hook":
      return step.cmds.map(renderCmd);
    case "transfer":
      return [`rsync ${quoteArgv(rsyncArgs(step.transfer, step.transfer.to))}`];
    case "scan-current":
      return [
        "grep the release for the literal DEPLOY_PATH/current/ (warn; refuse with php.forbid_current_paths)",
      ];
    case "php-warmup":
      return [
        "write the FastCGI client and runtime script to .cutover/tmp; opcache_compile_file the release's PHP files in every pool",
      ];
    case "smoke-http":
      return [
        "request each smoke.http script of the new release through php-fpm (FastCGI); HTTP >= 400 or a body mismatch fails",
      ];
    case "seal":
      return [
        "list and sha256 every file of the release; write its manifest and checksum; sync; mark it ready",
      ];
  }
}

/** The dry-run plan as text: every command, per host, in the order it would run. */
export function planText(dry: DryRun): string {
  const out: string[] = [`${dry.action} ${dry.release} (dry run: nothing was changed)`];
  for (const h of dry.hosts) {
    out.push("", `host ${h.host}`);
    for (const step of h.plan?.prepare ?? []) {
      out.push(`  # ${step.title}`, ...stepLines(step).map((l) => `  ${l}`));
    }
    if (h.plan) out.push("  # --- barrier: every host ready ---");
    out.push("  # switch current (atomic rename)", `  ${renderCmd(h.switchCmd).replace(/\n/g, "\n  ")}`);
    if (h.after.length > 0)
      out.push(
        `  # ${dry.action === "deploy" ? "after_switch" : "after_rollback"} hooks`,
        ...h.after.map((c) => `  ${renderCmd(c)}`),
      );
    if (h.prune.length > 0) out.push(`  # remove old releases: ${h.prune.join(", ")}`);
  }
  return out.join("\n");
}
