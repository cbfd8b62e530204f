import type { ResolvedStage } from "../config/resolve.js";
import { type Notification, notify } from "../notify/webhooks.js";
import { redact } from "../report/redact.js";
import type { Emit } from "./events.js";
import type { DeployResult } from "./outcome.js";
import { whoAmI } from "./source.js";

/**
 * Wraps a deploy or rollback with webhook notifications: `started` goes out without waiting, the
 * outcome after; each webhook costs at most its timeout, and a failure is only a warning.
 */
export async function withNotifications<R extends DeployResult>(
  stage: ResolvedStage,
  action: "deploy" | "rollback",
  emit: Emit,
  work: () => Promise<R>,
): Promise<R> {
  if (stage.notify.length === 0) return work();
  const part = stage.component === undefined ? {} : { component: stage.component };
  /** A notification from before the run has a result: no release known yet, no host changed. */
  const early = (event: Notification["event"], reason: string | null): Notification => ({
    event,
    stage: stage.name,
    ...part,
    release: null,
    previous: null,
    revision: null,
    who: whoAmI(),
    duration_ms: null,
    hosts: stage.hosts.map((h) => ({ host: h.name, state: "unchanged", serving: null })),
    reason: reason === null ? null : redact(reason, stage.secrets.values),
  });
  const started = notify(stage.notify, early("started", null));
  let result: R;
  try {
    result = await work();
  } catch (error) {
    // The run ended before it had a result (lock held, plan refused): the outcome still goes out.
    const warnings = [
      ...(await started),
      ...(await notify(stage.notify, early("failed", (error as Error).message))),
    ];
    for (const message of warnings) emit({ type: "warning", message });
    throw error;
  }
  const event: Notification["event"] =
    action === "rollback"
      ? result.ok
        ? "rolled_back"
        : "failed"
      : result.ok
        ? "succeeded"
        : result.hosts.some((h) => h.state === "switched-back")
          ? "rolled_back"
          : "failed";
  const warnings = [
    ...(await started),
    ...(await notify(stage.notify, {
      event,
      stage: result.stage,
      ...part,
      release: result.release,
      previous: result.previous,
      revision: result.revision,
      who: result.who,
      duration_ms: result.durationMs,
      hosts: result.hosts.map((h) => ({ host: h.host, state: h.state, serving: h.serving })),
      reason: result.error ? redact(result.error.message, stage.secrets.values) : null,
    })),
  ];
  for (const message of warnings) emit({ type: "warning", message });
  return { ...result, warnings: [...result.warnings, ...warnings] };
}
