import { repositorySecrets } from "./git-source.js";
import type { ResolvedStage } from "./types.js";

/**
 * A URL as it may be shown: the password of its userinfo replaced, and with `hidePath` (webhook
 * URLs, whose path is the bearer token: Slack, Discord, Teams) everything after the host too.
 */
export function redactUrl(text: string, hidePath = false): string {
  try {
    const url = new URL(text);
    if (hidePath) return `${url.protocol}//${url.host}/[REDACTED]`;
    // A user name can be a token too (https://TOKEN@host), and so can any query value (?token=…).
    const userinfo = url.username || url.password ? "***@" : "";
    const query = [...url.searchParams.keys()].map((k) => `${encodeURIComponent(k)}=***`).join("&");
    return `${url.protocol}//${userinfo}${url.host}${url.pathname}${query ? `?${query}` : ""}`;
  } catch {
    return "[REDACTED URL]";
  }
}

/** The secret strings of a stage: webhook URLs and secrets, passwords in URLs, credentials in the repository URL. */
export function stageSecrets(stage: Omit<ResolvedStage, "secrets">): string[] {
  const secrets: string[] = [];
  const passwordOf = (text: string | undefined) => {
    try {
      const url = new URL(text ?? "");
      if (url.password) secrets.push(url.password, decodeURIComponent(url.password));
    } catch {
      // not a URL: nothing to hide
    }
  };
  for (const hook of stage.notify) {
    secrets.push(hook.url.reveal());
    const path = new URL(hook.url.reveal()).pathname;
    if (path.length > 1) secrets.push(path);
    if (hook.secret) secrets.push(hook.secret.reveal());
    passwordOf(hook.url.reveal());
  }
  for (const secret of stage.agent?.secrets ?? []) secrets.push(secret.reveal());
  for (const url of [stage.healthCheck?.url, stage.probe?.url]) {
    passwordOf(url);
    try {
      const parsed = new URL(url ?? "");
      // A user name alone (https://TOKEN@host) and query values are credentials when they are long:
      // short ones ("admin", "1") would only blank ordinary words everywhere.
      const candidates = [...(parsed.password ? [] : [parsed.username]), ...parsed.searchParams.values()];
      secrets.push(...candidates.filter((v) => v.length >= 8));
    } catch {
      // not a URL
    }
  }
  return [...secrets.filter((s) => s.length >= 4), ...repositorySecrets(stage.git?.repository ?? "")];
}
