import type { ParsedSettings } from "./schema.js";
import { redactUrl } from "./secrets.js";
import { type ResolvedStage, Secret } from "./types.js";

/** What a run checks and tells around a release: smoke tests, the health check, webhooks, the probe. */
export function resolveChecks(
  merged: ParsedSettings,
): Pick<ResolvedStage, "smoke" | "healthCheck" | "notify" | "probe"> {
  return {
    smoke: {
      commands: merged.smoke?.commands ?? [],
      http: (merged.smoke?.http ?? []).map((h) => ({ path: h.path, expectBody: h.expect_body })),
    },
    healthCheck: merged.health_check
      ? {
          url: merged.health_check.url,
          command: merged.health_check.command,
          expectStatus: merged.health_check.expect_status ?? 200,
          expectBody: merged.health_check.expect_body,
          expectHeader: merged.health_check.expect_header ?? {},
          timeoutSeconds: merged.health_check.timeout ?? 5,
          retries: merged.health_check.retries ?? 3,
          intervalSeconds: merged.health_check.interval ?? 1,
        }
      : undefined,
    notify: (merged.notify ?? []).map((w) => ({
      url: new Secret(w.url, redactUrl(w.url, true)),
      format: w.format ?? "json",
      secret: w.secret === undefined ? undefined : new Secret(w.secret),
      events: w.events ?? ["started", "succeeded", "failed", "rolled_back"],
      timeoutSeconds: w.timeout ?? 5,
    })),
    probe: merged.probe ? { url: merged.probe.url, concurrency: merged.probe.concurrency ?? 16 } : undefined,
  };
}
