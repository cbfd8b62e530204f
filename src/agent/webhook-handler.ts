import { createHash } from "node:crypto";
import type { Deliveries } from "./deliveries.js";
import { type Headers, isPushEvent, parsePush, sameRef, verifyWebhook } from "./webhook.js";

export interface WebhookContext {
  readonly secrets: readonly string[];
  readonly ref: string;
  readonly deliveries: Deliveries;
  /** sha256 of the bodies accepted: forges sign the body only, so a replay may come with a new id. */
  readonly bodies: Deliveries;
  /** Called once a delivery is accepted, so it survives a restart. */
  readonly persist: () => void;
  /** Queues a pull; says whether it started at once or waits behind the running one. */
  readonly trigger: (reason: string) => "started" | "queued" | "closed";
}

export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** For the log line: what the agent decided and why. */
  readonly event: string;
  readonly fields: Record<string, unknown>;
}

const answer = (status: number, event: string, fields: Record<string, unknown>, body = {}): Answer => ({
  status,
  event,
  fields,
  body: {
    status: status < 300 ? event.replace(/^webhook\./, "") : "rejected",
    ...body,
    ...("reason" in fields ? { reason: fields.reason } : {}),
  },
});

/**
 * A webhook, in the order that keeps unauthenticated input inert: signature first, then the
 * replay check (the delivery id, and the body itself: the id is not signed), and only then is the body parsed. Pushes to other refs are answered 202 and ignored:
 * the forge did nothing wrong, and a 4xx would mark every such delivery failed there.
 */
export function handleWebhook(ctx: WebhookContext, headers: Headers, body: Buffer): Answer {
  const verdict = verifyWebhook(headers, body, ctx.secrets);
  if (!verdict.ok) return answer(verdict.status, "webhook.rejected", { reason: verdict.reason });
  const { provider, delivery, event } = verdict;
  const seen = { provider, delivery };
  const digest = createHash("sha256").update(body).digest("hex");
  if (ctx.deliveries.has(delivery))
    return answer(409, "webhook.rejected", { ...seen, reason: "delivery already seen (replay)" });
  if (ctx.bodies.has(digest))
    return answer(409, "webhook.rejected", {
      ...seen,
      reason: "this body was already delivered under another delivery id (replay)",
    });
  ctx.deliveries.add(delivery);
  ctx.bodies.add(digest);
  ctx.persist();

  let payload: unknown;
  try {
    payload = JSON.parse(body.toString("utf8"));
  } catch {
    return answer(400, "webhook.rejected", { ...seen, reason: "body is not JSON" });
  }
  if (event === "ping") return answer(200, "webhook.pong", seen);
  if (!isPushEvent(event))
    return answer(202, "webhook.ignored", { ...seen, reason: `event "${event}" is not a push` });
  const push = parsePush(payload);
  if (push === undefined)
    return answer(400, "webhook.rejected", { ...seen, reason: "not a push payload (no ref)" });
  if (!sameRef(push.ref, ctx.ref))
    return answer(202, "webhook.ignored", {
      ...seen,
      ref: push.ref,
      reason: `not the configured ref "${ctx.ref}"`,
    });
  if (push.after === null)
    return answer(202, "webhook.ignored", { ...seen, ref: push.ref, reason: "the push deleted the ref" });
  const queued = ctx.trigger(`${provider} push ${push.after.slice(0, 12)} (${delivery})`);
  if (queued === "closed")
    return answer(503, "webhook.rejected", { ...seen, reason: "the agent is stopping" });
  return answer(202, `webhook.${queued}`, { ...seen, ref: push.ref, commit: push.after });
}
