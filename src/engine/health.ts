import type http from "node:http";
import type { HealthCheck, ResolvedHost } from "../config/resolve.js";
import { redactUrl } from "../config/secrets.js";
import { CutoverError } from "../errors.js";
import { cmd } from "../shell/cmd.js";
import { httpClient } from "../transport/http-client.js";
import type { Emit } from "./events.js";
import type { LockedTarget } from "./lock.js";
import { runStep, timed } from "./steps.js";

interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

function get(url: string, timeoutMs: number): Promise<Reply> {
  const client = httpClient(url);
  return new Promise((resolve, reject) => {
    const req = client.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        if (body.length < 65536) body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on("error", reject);
    });
    // An absolute limit per attempt: a server that accepts and never answers cannot hold us longer.
    const timer = setTimeout(
      () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    req.on("close", () => clearTimeout(timer));
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on("error", reject);
  });
}

export function healthUrl(check: HealthCheck, host: ResolvedHost): string {
  return check
    .url!.replaceAll(
      "{host}",
      host.ssh?.host.includes(":") ? `[${host.ssh.host}]` : (host.ssh?.host ?? "localhost"),
    )
    .replaceAll("{name}", host.name);
}

/** What is wrong with a reply, or undefined when it passes. */
function judge(check: HealthCheck, reply: Reply, release: string): string | undefined {
  if (reply.status !== check.expectStatus) return `status ${reply.status}, expected ${check.expectStatus}`;
  if (check.expectBody !== undefined && !new RegExp(check.expectBody).test(reply.body))
    return `body does not match /${check.expectBody}/`;
  for (const [name, want] of Object.entries(check.expectHeader)) {
    const expected = want.replaceAll("{release}", release);
    const got = reply.headers[name.toLowerCase()];
    if (got !== expected)
      return `header ${name} is ${got === undefined ? "missing" : `"${got}"`}, expected "${expected}"`;
  }
  return undefined;
}

/**
 * The post-switch health check of one host: up to `retries` attempts, each limited to `timeout`,
 * `interval` apart. Throws with the last reason when every attempt failed.
 */
export async function checkHealth(
  t: LockedTarget,
  check: HealthCheck,
  release: string,
  emit: Emit,
  signal?: AbortSignal,
): Promise<void> {
  await timed(emit, t.host.name, "health check", async () => {
    let reason = "";
    for (let attempt = 1; attempt <= check.retries && !signal?.aborted; attempt++) {
      if (attempt > 1) await new Promise((r) => setTimeout(r, check.intervalSeconds * 1000));
      if (check.command) {
        const cwd = t.layout.release(release);
        // Each attempt gets health_check.timeout on the host, not command_timeout: the step's own
        // `timeout` kills its process group (the one an interrupt kills: a `timeout` of the
        // command's own would start another group, which an interrupt would miss).
        const limit = { executor: t.executor, emit, timeoutSeconds: check.timeoutSeconds };
        const ok = await runStep(limit, "health check", [
          cmd(["sh", "-c", check.command], { cwd, env: { CUTOVER_RELEASE: release } }),
        ]).then(
          () => true,
          (e: Error) => {
            reason = e.message;
            return false;
          },
        );
        if (ok) return;
        continue;
      }
      const url = healthUrl(check, t.host);
      const shown = redactUrl(url);
      try {
        const problem = judge(check, await get(url, check.timeoutSeconds * 1000), release);
        if (!problem) return;
        reason = `${shown}: ${problem}`;
      } catch (error) {
        reason = `${shown}: ${(error as Error).message}`;
      }
    }
    throw new CutoverError(
      "health",
      `${t.host.name}: health check failed after ${check.retries} attempt${check.retries === 1 ? "" : "s"}: ${reason}`,
    );
  });
}
