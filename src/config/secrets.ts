import type { ResolvedStage } from "./types.js";

/**
 * A URL as it may be shown: the password of its userinfo replaced, and with `hidePath` (webhook
 * URLs, whose path is the bearer token: Slack, Discord, Teams) everything after the host too.
 */
export function redactUrl(text: string, hidePath = false): string {
  try {
    const url = new URL(text);
    if (hidePath) return `${url.protocol}//${url.host}/[REDACTED]`;
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "[REDACTED URL]";
  }
}

/** The secret strings of a stage: webhook URLs and secrets, passwords in URLs. */
export function stageSecrets(stage: ResolvedStage): string[] {
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
  passwordOf(stage.healthCheck?.url);
  passwordOf(stage.probe?.url);
  return secrets.filter((s) => s.length >= 4);
}
