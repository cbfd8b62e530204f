import { createHmac } from "node:crypto";
import type { NotifyEvent, Webhook } from "../config/resolve.js";
import { httpClient } from "../transport/http-client.js";

/** The documented JSON body of every notification. */
export interface Notification {
  readonly event: NotifyEvent;
  readonly stage: string;
  /** The part of `components:` deployed, when the config has parts. */
  readonly component?: string;
  readonly release: string | null;
  readonly previous: string | null;
  readonly revision: string | null;
  readonly who: string;
  readonly duration_ms: number | null;
  readonly hosts: readonly { host: string; state: string; serving: string | null }[];
  readonly reason: string | null;
}

function body(hook: Webhook, n: Notification): string {
  if (hook.format === "json") return JSON.stringify(n);
  const icon = {
    started: ":rocket:",
    succeeded: ":white_check_mark:",
    failed: ":x:",
    rolled_back: ":rewind:",
  }[n.event];
  const text = `${icon} cutover ${n.event.replace("_", " ")}: ${n.stage}${n.component ? `/${n.component}` : ""} ${n.release ?? ""} by ${n.who}${n.reason ? ` (${n.reason})` : ""}`;
  return JSON.stringify({ text });
}

/** GitHub's convention, so existing receivers can verify it: sha256=<hex HMAC-SHA256 of the body>. */
export function signature(secret: string, payload: string): string {
  return `sha256=${createHmac("sha256", secret).update(payload).digest("hex")}`;
}

function post(
  url: string,
  payload: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<void> {
  const client = httpClient(url);
  return new Promise((resolve, reject) => {
    // Every way out settles: a receiver that drops the connection halfway through its answer emits
    // neither 'end' nor a request 'error', so the response's own 'close' decides then.
    let timer: NodeJS.Timeout | undefined;
    let answered = false;
    const settle = (error?: Error) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    };
    const req = client.request(
      url,
      { method: "POST", headers: { "content-type": "application/json", ...headers }, agent: false },
      (res) => {
        answered = true;
        res.resume();
        res.on("end", () =>
          settle((res.statusCode ?? 0) < 300 ? undefined : new Error(`HTTP ${res.statusCode}`)),
        );
        res.on("error", (e) =>
          settle(new Error(`HTTP ${res.statusCode}: the answer was cut off (${e.message})`)),
        );
        res.on("close", () => {
          if (!res.complete) settle(new Error(`HTTP ${res.statusCode}: the connection closed mid-answer`));
        });
      },
    );
    timer = setTimeout(() => req.destroy(new Error("timed out")), timeoutMs);
    req.on("error", (e) => settle(e));
    // With no answer at all (an answer settles through its own events). Deferred: a request
    // 'error', if any, says more.
    req.on("close", () => {
      if (!answered) setImmediate(() => settle(new Error("the connection closed before an answer")));
    });
    req.end(payload);
  });
}

/**
 * Sends one event to every webhook that wants it, retrying with backoff; each webhook gets at most
 * its timeout in total, so a receiver that is down or hangs costs the deploy no more than that.
 * Failures come back as warnings, never as errors.
 */
export async function notify(hooks: readonly Webhook[], n: Notification): Promise<string[]> {
  const results = await Promise.all(
    hooks
      .filter((h) => h.events.includes(n.event))
      .map(async (hook) => {
        const payload = body(hook, n);
        const headers: Record<string, string> = { "user-agent": "cutover", "x-cutover-event": n.event };
        if (hook.secret) headers["x-cutover-signature-256"] = signature(hook.secret.reveal(), payload);
        const deadline = Date.now() + hook.timeoutSeconds * 1000;
        let last = "";
        for (let attempt = 0; Date.now() < deadline; attempt++) {
          try {
            await post(hook.url.reveal(), payload, headers, deadline - Date.now());
            return undefined;
          } catch (error) {
            last = (error as Error).message;
          }
          await new Promise((r) =>
            setTimeout(r, Math.min(200 * 2 ** attempt, Math.max(0, deadline - Date.now()))),
          );
        }
        return `notification ${n.event} to ${hook.url} failed: ${last}`;
      }),
  );
  return results.filter((r): r is string => r !== undefined);
}
