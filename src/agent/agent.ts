import { once } from "node:events";
import type { AgentSettings } from "../config/agent-settings.js";
import { CutoverError, EXIT } from "../errors.js";
import { redactValues } from "../report/redact.js";
import { Deliveries } from "./deliveries.js";
import type { Log } from "./log.js";
import { Poller } from "./poller.js";
import { type Live, type PullDeps, type PullOutcome, pullOnce } from "./pull.js";
import { DeployQueue } from "./queue.js";
import { RateLimit } from "./rate-limit.js";
import { agentServer } from "./server.js";
import { DELIVERIES_KEPT, readState, writeState } from "./state.js";
import { retryDelaySeconds } from "./transient.js";
import { handleWebhook } from "./webhook-handler.js";

export interface AgentOptions {
  readonly settings: AgentSettings;
  readonly deps: PullDeps;
  readonly stage: string;
  /** Shown in /status: the repository (credentials removed) and the ref. */
  readonly repository: string;
  readonly ref: string;
  readonly stateFile: string;
  /** The deploy path the state file is in: no directory on the way from it may be a symlink. */
  readonly stateRoot?: string;
  readonly log: Log;
  /** Removes the stage's secrets from text: /status shows errors and reasons read from hosts. */
  readonly redact: (text: string) => string;
  /** Aborted on SIGTERM / SIGINT: stop accepting, abort the running deploy through the engine, return. */
  readonly stop: AbortSignal;
}

interface LastResult {
  readonly at: string;
  readonly reason: string;
  readonly action: PullOutcome["action"] | "error";
  readonly commit: string | null;
  readonly release: string | null;
  readonly error: string | null;
}

function lastOf(reason: string, outcome: PullOutcome): LastResult {
  const at = new Date().toISOString();
  const base = { at, reason, action: outcome.action, commit: outcome.commit, error: null };
  switch (outcome.action) {
    case "up-to-date":
      return { ...base, release: outcome.release };
    case "skipped":
      return { ...base, release: null, error: outcome.reason };
    case "deployed":
      return { ...base, release: outcome.result.release };
    case "failed":
      return { ...base, release: outcome.result.release, error: outcome.error };
  }
}

/** Runs until `stop` aborts: webhooks and polls feed one queue of pulls. Resolves once everything stopped. */
export async function runAgent(options: AgentOptions): Promise<void> {
  const { settings, deps, log } = options;
  const loaded = readState(options.stateFile, options.stateRoot);
  if (loaded.problem) log("warn", "state.unreadable", { reason: loaded.problem });
  const deliveries = new Deliveries(DELIVERIES_KEPT, loaded.state.deliveries);
  const bodies = new Deliveries(DELIVERIES_KEPT, loaded.state.bodies);
  const persist = () =>
    writeState(
      options.stateFile,
      {
        ...readState(options.stateFile, options.stateRoot).state,
        deliveries: deliveries.list(),
        bodies: bodies.list(),
      },
      options.stateRoot,
    );

  const deployAbort = new AbortController();
  let live: Live = { release: null, commit: null };
  let last: LastResult | null = null;
  let running: { reason: string; since: string } | null = null;
  // A commit whose last attempt failed transiently is tried again at its time (polls skip a handled commit).
  let retry: { commit: string; at: string; reason: string } | null = null;
  let retryTimer: NodeJS.Timeout | undefined;
  // Pulls in a row that found the lock held by another deploy: without polling, only a retry comes.
  let lockedInARow = 0;
  const scheduleRetry = (next: typeof retry) => {
    clearTimeout(retryTimer);
    retry = next;
    if (!retry) return;
    const { at } = retry;
    // setTimeout takes at most 2^31-1 ms; the backoff is far below that.
    retryTimer = setTimeout(
      () => queue.trigger(`retry of ${next!.commit.slice(0, 12)} after a transient failure`),
      Math.max(0, Date.parse(at) - Date.now()),
    );
  };
  // The commit the last pull looked at, and the one the running pull works on: a poll that sees
  // either has nothing to add.
  let handled: string | undefined;
  let pulling: string | undefined;
  const tracked: PullDeps = {
    ...deps,
    resolve: async (signal) => {
      pulling = await deps.resolve(signal);
      return pulling;
    },
  };

  const refreshLive = async () => {
    try {
      live = await deps.live();
    } catch (error) {
      log("warn", "live.unreadable", { reason: (error as Error).message });
    }
  };
  const queue = new DeployQueue(async (reason) => {
    running = { reason, since: new Date().toISOString() };
    log("info", "pull.start", { reason });
    try {
      const outcome = await pullOnce(tracked, { signal: deployAbort.signal });
      handled = outcome.commit;
      last = lastOf(reason, outcome);
      lockedInARow = 0;
      if (outcome.action === "failed" && outcome.retryAt)
        scheduleRetry({ commit: outcome.commit, at: outcome.retryAt, reason: outcome.error });
      else if (outcome.action === "skipped" && outcome.retryAt)
        scheduleRetry({ commit: outcome.commit, at: outcome.retryAt, reason: outcome.reason });
      else scheduleRetry(null);
      // /status is right as soon as the log says so; the refresh below reads the hosts again.
      if (outcome.action === "deployed") live = { release: outcome.result.release, commit: outcome.commit };
      if (outcome.action === "up-to-date") live = { release: outcome.release, commit: outcome.commit };
      const retryAt = retry ? { retry_at: retry.at } : {};
      const fields = { reason, commit: outcome.commit, release: last.release, ...retryAt };
      if (outcome.action === "failed" && outcome.result.exitCode === EXIT.interrupted)
        log("warn", "pull.aborted", { ...fields, error: outcome.error });
      else if (outcome.action === "failed")
        log("error", "pull.failed", {
          ...fields,
          error: outcome.error,
          ...(outcome.transient ? { transient: outcome.transient } : {}),
        });
      else if (outcome.action === "skipped") log("warn", "pull.skipped", { ...fields, why: outcome.reason });
      else log("info", `pull.${outcome.action}`, fields);
    } catch (error) {
      last = {
        at: new Date().toISOString(),
        reason,
        action: "error",
        commit: null,
        release: null,
        error: (error as Error).message,
      };
      const locked = error instanceof CutoverError && error.details.exitCode === EXIT.locked;
      if (locked && pulling !== undefined) {
        lockedInARow += 1;
        const delayS = retryDelaySeconds(lockedInARow, settings.pollSeconds, settings.backoffMaxSeconds);
        const at = new Date(Date.now() + delayS * 1000).toISOString();
        scheduleRetry({ commit: pulling, at, reason: (error as Error).message });
      }
      log("error", "pull.error", {
        reason,
        error: (error as Error).message,
        ...(locked && retry ? { retry_at: retry.at } : {}),
      });
    } finally {
      running = null;
      pulling = undefined;
      await refreshLive();
    }
  });

  const poller =
    settings.pollSeconds > 0
      ? new Poller(
          settings.pollSeconds * 1000,
          settings.backoffMaxSeconds * 1000,
          async () => {
            const commit = await deps.resolve();
            if (commit !== handled && commit !== pulling) queue.trigger(`poll found ${commit.slice(0, 12)}`);
            return commit;
          },
          (error, failures, retryInMs) =>
            log("warn", "poll.failed", {
              error: error.message,
              failures,
              retry_in_s: Math.round(retryInMs / 1000),
            }),
        )
      : undefined;

  const server = agentServer({
    bodyLimitBytes: settings.bodyLimitBytes,
    rateLimit: new RateLimit(settings.ratePerMinute),
    log,
    webhook: (headers, body) =>
      handleWebhook(
        {
          secrets: settings.secrets.map((s) => s.reveal()),
          ref: options.ref,
          deliveries,
          bodies,
          persist,
          trigger: (reason) => queue.trigger(reason),
        },
        headers,
        body,
      ),
    status: () =>
      redactValues(
        {
          stage: options.stage,
          repository: options.repository,
          ref: options.ref,
          live,
          running,
          queued: queue.queued ?? null,
          last,
          retry,
          poll: poller ? { interval_s: settings.pollSeconds, ...poller.status } : null,
          webhooks: settings.secrets.length > 0,
        },
        options.redact,
      ),
  });
  server.listen(settings.port, settings.listen);
  try {
    await Promise.race([once(server, "listening"), once(server, "error").then(([e]) => Promise.reject(e))]);
  } catch (error) {
    throw new CutoverError(
      "agent",
      `agent: cannot listen on ${settings.listen}:${settings.port}: ${(error as Error).message}`,
      {
        fix: "set agent.listen and agent.port in cutover.yaml to a free address on this machine",
        state: "nothing was changed",
      },
    );
  }
  const address = server.address();
  log("info", "agent.started", {
    stage: options.stage,
    ref: options.ref,
    listen: typeof address === "object" && address ? `${address.address}:${address.port}` : settings.listen,
    poll_s: settings.pollSeconds,
    webhooks: settings.secrets.length > 0,
  });
  await refreshLive();
  // A restarted agent carries on: the first poll (or this check, without polling) catches up.
  if (poller) poller.start();
  else queue.trigger("startup");

  if (!options.stop.aborted) await once(options.stop, "abort");
  log("info", "agent.stopping", { running: running !== null });
  poller?.stop();
  clearTimeout(retryTimer);
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  deployAbort.abort();
  await queue.close();
  server.closeAllConnections();
  await closed;
  log("info", "agent.stopped", {});
}
