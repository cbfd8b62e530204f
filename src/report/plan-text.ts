import type { DryRun } from "../engine/dry-run.js";
import type { InPlaceSwitch } from "../plan/in-place.js";
import type { HostRun, Phase, RunPlan } from "../plan/run.js";
import type { Step, Transfer } from "../plan/steps.js";
import { type Cmd, displayCmd } from "../shell/cmd.js";
import { quoteArgv } from "../shell/quote.js";
import { rsyncArgs } from "../transport/rsync.js";

function stepLines(step: Step): string[] {
  switch (step.kind) {
    case "run":
    case "hook":
    case "git-describe":
      return step.cmds.map(displayCmd);
    case "verify-upload":
      return [
        `list and sha256 every uploaded file; refuse the release unless its manifest checksum is the local build's (${step.checksum})`,
      ];
    case "transfer":
      return step.delta
        ? [
            `build from ${step.delta.dir}: hard-link each file whose mode and sha256 its manifest records, send the rest (written in one round trip when small, else rsync --files-from), set directory modes, check the result against the source (anything amiss: empty the release, send every file, link none); without that manifest:`,
            `rsync ${quoteArgv(rsyncArgs(step.transfer, step.transfer.to))}`,
          ]
        : [`rsync ${quoteArgv(rsyncArgs(step.transfer, step.transfer.to))}`];
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
        ...(step.afterUpload
          ? [
              "after a delta upload (cutover's own steps right before this one, the shared links and writable dirs, run in its round trip; in the upload's own, right after its check, when nothing else lies between): if its check passed, take that check's listing (linked files keep their recorded hashes), list only the shared links, the writable dirs and their parents again, sha256 the files rsync sent and the linked ones newer than the previous manifest, and grep for current/ in the same round trip; if a linked file changed since, or otherwise:",
            ]
          : []),
        "list and sha256 every file of the release (hashes of files linked to the previous release reused); grep new files (and those the previous release's scan found) for the literal DEPLOY_PATH/current/ (warn; refuse with php.forbid_current_paths); write its manifest and checksum; sync; mark it ready",
      ];
  }
}

interface Section {
  readonly title: string;
  readonly lines: readonly string[];
}

const cmds = (title: string, list: readonly Cmd[]): Section[] =>
  list.length > 0 ? [{ title, lines: list.map(displayCmd) }] : [];

/** What one phase does on one host, as titled blocks of commands (or of descriptions). */
function phaseSections(plan: RunPlan, phase: Phase, h: HostRun): Section[] {
  const { php, healthCheck } = plan.stage;
  switch (phase.kind) {
    case "clean":
      return cmds("clean up what an interrupted run left", h.clean);
    case "snapshot":
      return cmds(
        "snapshot shared/ before the deploy (a failure stops it here), then prune beyond snapshots.keep",
        h.snapshot,
      );
    case "restore-shared":
      return cmds(
        "restore shared/ from the snapshot taken before the release rolled back from (the live shared/ is snapshotted first; a failure is a warning)",
        h.restoreShared,
      );
    case "check":
      return [
        {
          title: `compare release ${plan.release} with its manifest: list it, hash the files modified since the manifest was written; if a file changed, went missing or changed mode or link, nothing switches (rollback --no-verify skips this)`,
          lines: [],
        },
      ];
    case "prepare":
      return h.prepare.map((step) => ({ title: step.title, lines: stepLines(step) }));
    case "switch": {
      const batch = phase.batches.findIndex((b) => b.includes(h.host.name));
      const where = phase.batches.length > 1 ? ` (batch ${batch + 1} of ${phase.batches.length})` : "";
      if (h.inPlace)
        return [
          ...cmds("before_batch hooks", h.beforeBatch),
          ...inPlaceSections(h.inPlace, h.switchTo, where),
          ...cmds("after_batch hooks", h.afterBatch),
        ];
      const drain = phase.drains?.[batch];
      return [
        ...cmds("before_batch hooks", h.beforeBatch),
        ...(drain
          ? [
              {
                title: `on the balancer: take ${drain.servers.join(", ")} out of service, then wait until their sessions end (at most ${drain.timeoutSeconds} s)`,
                lines: [displayCmd(drain.out), displayCmd(drain.sessions)],
              },
            ]
          : []),
        { title: `switch current (atomic rename)${where}`, lines: [displayCmd(h.switchTo)] },
        ...(drain
          ? [
              {
                title: "then, for this batch alone: reset and verify PHP, health check; then back in service",
                lines: [displayCmd(drain.ready)],
              },
            ]
          : []),
        ...cmds("after_batch hooks", h.afterBatch),
        {
          title: "undo if any host fails from here on: current back as it was",
          lines: [displayCmd(h.switchBack)],
        },
      ];
    }
    case "php-reset": {
      const resets = php.pools
        .filter((p) => p.reset !== "none")
        .map((p) =>
          p.reset === "opcache"
            ? `reset OPcache of ${p.address} through its own SAPI, then ask ${php.verifyRequests} workers which release they serve (up to ${php.resetWaitSeconds} s)`
            : `run php.reload_command for ${p.address}, then ask ${php.verifyRequests} workers which release they serve`,
        );
      if (php.modPhp)
        resets.unshift("run php.reload_command (Apache graceful) and wait for every old child to exit");
      return resets.length > 0 ? [{ title: "reset and verify PHP", lines: resets }] : [];
    }
    case "health":
      return [
        {
          title: `health check (${phase.switchBackOnFailure ? "a failure switches every host back" : "a failure is a warning"})`,
          lines: [
            healthCheck?.url
              ? `GET ${healthCheck.url} expecting ${healthCheck.expectStatus}, ${healthCheck.retries} attempts`
              : `run ${healthCheck?.command ?? ""}`,
          ],
        },
      ];
    case "record":
      return [
        {
          title: "record",
          lines: [
            `${h.meta.id} live${h.previous ? `, ${h.previous} ${plan.action === "deploy" ? "superseded" : "rolled-back"}` : ""}; a history line`,
          ],
        },
      ];
    case "after":
      return cmds(
        `${phase.hook} hooks${phase.switchBackOnFailure ? " (a failure switches every host back)" : ""}`,
        h.after,
      );
    case "prune":
      return h.prune.length > 0
        ? [
            {
              title: `remove old releases (${plan.hosts.some((v) => v.after.length > 0) ? "after the hooks" : "in the records' round trip"})`,
              lines: [h.prune.join(", ")],
            },
          ]
        : [];
  }
}

/** strategy: in-place: the upload is the switch; its undo uploads the build that was live. */
function inPlaceSections(p: InPlaceSwitch, mark: Cmd, where: string): Section[] {
  const rsync = (t: Transfer) => `rsync ${quoteArgv(rsyncArgs(t, t.to))}`;
  return [
    {
      title: `switch in place: upload with delayed updates into the live directory, then measure the mixed window${where}`,
      lines: [displayCmd(mark), rsync(p.upload), displayCmd(p.measure)],
    },
    {
      title: "undo if any host fails from here on: upload the build that was live",
      lines: [p.undo ? rsync(p.undo) : "(none: no build of what was live is kept on this machine)"],
    },
  ];
}

const BARRIER: Record<string, string> = {
  prepare: "--- barrier: every host ready ---",
  check: "--- barrier: the release as deployed on every host ---",
};

/** The dry-run plan as text: every phase, and every command per host, in the order it would run. */
export function planText(dry: DryRun): string {
  const { plan } = dry;
  const out: string[] = [`${plan.action} ${plan.release} (dry run: nothing was changed)`];
  for (const [host, problems] of dry.problems)
    for (const p of problems) out.push(`note: ${host}: ${p} (left alone)`);
  if (plan.action === "deploy" && plan.stage.buildLocal.length > 0)
    out.push(
      "",
      "== build once, on this machine (in a clean export; its result is what every host gets)",
      ...plan.stage.buildLocal.map((line) => `  ${line}`),
    );
  for (const phase of plan.phases) {
    const perHost = plan.hosts.map((h) => ({ h, sections: phaseSections(plan, phase, h) }));
    if (perHost.every((p) => p.sections.length === 0)) continue;
    out.push("", `== ${phase.kind}`);
    for (const { h, sections } of perHost) {
      if (sections.length === 0) continue;
      out.push(`host ${h.host.name}`);
      for (const s of sections)
        out.push(`  # ${s.title}`, ...s.lines.map((l) => `  ${l.replace(/\n/g, "\n  ")}`));
    }
    if (BARRIER[phase.kind]) out.push(`  # ${BARRIER[phase.kind]}`);
  }
  return out.join("\n");
}

/** The dry-run plan for --json: phases with each host's titled commands (rendered text, no config). */
export function planJson(dry: DryRun): unknown {
  const { plan } = dry;
  return {
    action: plan.action,
    release: plan.release,
    stage: plan.stage.name,
    notes: Object.fromEntries(dry.problems),
    phases: plan.phases.map((phase) => ({
      phase: phase.kind,
      hosts: Object.fromEntries(plan.hosts.map((h) => [h.host.name, phaseSections(plan, phase, h)])),
    })),
  };
}
