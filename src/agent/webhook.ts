import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export type Provider = "github" | "gitlab" | "gitea";

/** Request headers, lower-cased as node:http gives them. */
export type Headers = Readonly<Record<string, string | string[] | undefined>>;

export type Verdict =
  | { readonly ok: true; readonly provider: Provider; readonly delivery: string; readonly event: string }
  | { readonly ok: false; readonly status: 400 | 401 | 403; readonly reason: string };

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? undefined : value; // a repeated auth header is never trusted
}

/** Equal-length digests compared in constant time: neither the secret's length nor its prefix leaks. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

function sameHmac(givenHex: string, body: Buffer, secret: string): boolean {
  if (!/^[0-9a-f]{64}$/i.test(givenHex)) return false;
  const expected = createHmac("sha256", secret).update(body).digest();
  return timingSafeEqual(Buffer.from(givenHex, "hex"), expected);
}

/**
 * Which forge sent the request and whether it proves the secret. Gitea also sends GitHub's headers,
 * so its own are looked at first. The body is only ever parsed after this says ok.
 */
export function verifyWebhook(headers: Headers, body: Buffer, secrets: readonly string[]): Verdict {
  if (secrets.length === 0)
    return { ok: false, status: 403, reason: "webhooks are off: agent.secrets is not set" };
  const any = (check: (secret: string) => boolean) =>
    secrets.reduce((found, secret) => check(secret) || found, false); // every secret is tried: constant work

  let provider: Provider;
  let proven: boolean;
  if (header(headers, "x-gitea-event") !== undefined || header(headers, "x-gitea-signature") !== undefined) {
    provider = "gitea";
    const signature = header(headers, "x-gitea-signature");
    if (signature === undefined) return { ok: false, status: 401, reason: "gitea: no X-Gitea-Signature" };
    proven = any((s) => sameHmac(signature, body, s));
  } else if (
    header(headers, "x-gitlab-event") !== undefined ||
    header(headers, "x-gitlab-token") !== undefined
  ) {
    provider = "gitlab";
    const token = header(headers, "x-gitlab-token");
    if (token === undefined) return { ok: false, status: 401, reason: "gitlab: no X-Gitlab-Token" };
    proven = any((s) => sameSecret(token, s));
  } else {
    provider = "github";
    const signature = header(headers, "x-hub-signature-256");
    if (signature === undefined)
      return {
        ok: false,
        status: 401,
        reason: "no signature (X-Hub-Signature-256, X-Gitlab-Token or X-Gitea-Signature)",
      };
    proven = signature.startsWith("sha256=") && any((s) => sameHmac(signature.slice(7), body, s));
  }
  if (!proven) return { ok: false, status: 403, reason: `${provider}: signature does not match any secret` };

  const [deliveryHeader, eventHeader] = {
    github: ["x-github-delivery", "x-github-event"],
    gitlab: ["x-gitlab-event-uuid", "x-gitlab-event"],
    gitea: ["x-gitea-delivery", "x-gitea-event"],
  }[provider];
  const delivery = header(headers, deliveryHeader!);
  if (delivery === undefined || !/^[\w.:-]{1,200}$/.test(delivery))
    return {
      ok: false,
      status: 400,
      reason: `${provider}: no usable delivery id (${deliveryHeader}) to reject replays with`,
    };
  return { ok: true, provider, delivery, event: header(headers, eventHeader!) ?? "" };
}

export interface Push {
  readonly ref: string;
  /** The commit the ref now points to; null when the push deleted the ref. */
  readonly after: string | null;
}

/** A push payload's ref and new commit (the same fields on GitHub, GitLab and Gitea); undefined if not a push. */
export function parsePush(body: unknown): Push | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const { ref, after } = body as { ref?: unknown; after?: unknown };
  if (typeof ref !== "string" || ref.length > 1000) return undefined;
  const commit =
    typeof after === "string" && /^[0-9a-f]{40}$/.test(after) && !/^0+$/.test(after) ? after : null;
  return { ref, after: commit };
}

/** Push events by name: GitHub and Gitea say "push", GitLab "Push Hook". */
export function isPushEvent(event: string): boolean {
  return event === "push" || event === "Push Hook";
}

/**
 * Whether a pushed ref (refs/heads/main) is the configured one. A short name means the branch
 * (refs/heads/main): a pushed tag of the same name must not trigger a pull (and the pull refuses a
 * name that is both, see resolveRef); a tag is followed when configured in full (refs/tags/v1).
 * With HEAD (the default branch) any branch push counts: the pull then reads what HEAD is.
 */
export function sameRef(pushed: string, configured: string): boolean {
  if (configured === "HEAD") return pushed.startsWith("refs/heads/");
  if (configured.startsWith("refs/")) return pushed === configured;
  return pushed === `refs/heads/${configured}`;
}
