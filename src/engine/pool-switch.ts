import http from "node:http";
import https from "node:https";
import type { BlueGreen, ResolvedStage } from "../config/resolve.js";
import { CutoverError } from "../errors.js";
import { RELEASE_HEADER } from "../integrations/web/server-config.js";
import { type PoolName, type Pools, poolsOf, setPoolState, switchPools } from "../plan/blue-green.js";
import { layout } from "../plan/layout.js";
import { appendHistory, pathEntry } from "../plan/records.js";
import type { Cmd } from "../shell/cmd.js";
import { type BalancerLink, checkBalancer, describeBalancer } from "./balancer.js";
import type { Emit } from "./events.js";
import { onEveryHost } from "./every-host.js";
import { runStep, timed } from "./steps.js";
import { openTargets } from "./targets.js";

/** What a switch of the balancer from one pool to the other did, and how long until it was complete. */
export interface PoolSwitch {
  readonly from: PoolName;
  readonly to: PoolName;
  /** The release the new pool serves. */
  readonly release: string;
  /** From sending the switch to the first of `confirm` consecutive answers from the new pool (null: not measured). */
  readonly switchMs: number | null;
  readonly confirm: number;
  /** The balancer command alone (sent to answered). */
  readonly commandMs: number;
}

/** The pools as the balancer serves them; a one-line error (nothing changed) when that is unclear. */
export async function readPools(link: BalancerLink, stage: ResolvedStage): Promise<Pools> {
  const states = await checkBalancer(link, stage.hosts, false);
  const pools = poolsOf(stage.blueGreen!, link.config, states);
  if (typeof pools === "string")
    throw new CutoverError("balancer", `blue-green: ${pools} in ${describeBalancer(link.config)}`, {
      state: "nothing was changed",
      fix: "put exactly one pool in service (the other drained or in maintenance / marked down) and run again",
    });
  return pools;
}

export function poolHosts(bg: BlueGreen, pool: PoolName): readonly string[] {
  return bg.pools[pool];
}

const RELEASE_ID = /\b\d{8}T\d{6}Z\b/g;
/** Between a probe that did not name the new release and the next: the switch time is this precise. */
const RETRY_PAUSE_MS = 20;

/** The release ids one answer names; none when it fails or takes longer than `limitMs` in all. */
function ask(url: string, agent: http.Agent, limitMs: number): Promise<string[]> {
  const get = url.startsWith("https:") ? https.get : http.get;
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const settle = (named: string[]) => {
      clearTimeout(timer);
      resolve(named);
    };
    const req = get(url, { agent, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        if (body.length < 65536) body += c;
      });
      res.on("end", () =>
        settle([
          ...["x-release", RELEASE_HEADER.toLowerCase()].flatMap(
            (h) => String(res.headers[h] ?? "").match(RELEASE_ID) ?? [],
          ),
          ...(body.match(RELEASE_ID) ?? []),
        ]),
      );
      res.on("error", () => settle([]));
      res.on("close", () => settle([]));
    });
    // Body included: an answer that trickles or never ends resets no idle timer.
    timer = setTimeout(() => req.destroy(new Error("timeout")), Math.max(0, limitMs));
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => settle([]));
  });
}

/**
 * Requests through the balancer, one after the other, until `confirm` in a row name only `release`:
 * the switch was complete when the first of them was sent. Null after 30 s.
 */
export async function measureSwitch(
  url: string,
  release: string,
  confirm: number,
  since: number,
): Promise<number | null> {
  const agent = url.startsWith("https:")
    ? new https.Agent({ keepAlive: true })
    : new http.Agent({ keepAlive: true });
  const deadline = since + 30_000;
  let runStart: number | undefined;
  let run = 0;
  try {
    while (performance.now() < deadline) {
      const sent = performance.now();
      const named = await ask(url, agent, Math.min(5000, deadline - sent));
      if (named.length > 0 && named.every((r) => r === release)) {
        runStart ??= sent;
        run += 1;
        if (run >= confirm) return Math.round((runStart - since) * 10) / 10;
      } else {
        runStart = undefined;
        run = 0;
        // A refused connection fails at once: without a pause this would spin for the 30 s.
        await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
      }
    }
    return null;
  } finally {
    agent.destroy();
  }
}

/** Switches the balancer to pool `to` in one step, then measures until only it answers. */
export async function switchToPool(
  link: BalancerLink,
  stage: ResolvedStage,
  pools: Pools,
  release: string,
  emit: Emit,
): Promise<PoolSwitch> {
  const b = link.config;
  const to = pools.idle;
  emit({ type: "phase", phase: `switch the balancer from ${pools.live} to ${to} (${release})` });
  const since = performance.now();
  try {
    await timed(emit, "balancer", `switch to ${to}`, () =>
      runStep({ executor: link.executor, emit }, `switch the balancer to ${to}`, [
        switchPools(stage.blueGreen!, b, to),
      ]),
    );
  } catch (error) {
    throw await undoSwitch(link, stage, pools, error as Error, emit);
  }
  const commandMs = Math.round((performance.now() - since) * 10) / 10;
  const switchMs = b.probeUrl ? await measureSwitch(b.probeUrl, release, b.switchConfirm, since) : null;
  if (b.probeUrl && switchMs === null)
    emit({
      type: "warning",
      message: `balancer: ${b.probeUrl} did not answer ${b.switchConfirm} times in a row from ${to} (${release}) within 30 s`,
    });
  return { from: pools.live, to, release, switchMs, confirm: b.switchConfirm, commandMs };
}

/**
 * After a failed switch, the pool that served serves again, as a failed multi-host switch is switched
 * back. HAProxy may have applied part of the switch: the old pool goes ready first, and only once all
 * of it is ready is the new pool drained (never nothing in service). nginx needs no undo: a failed
 * swap put the old upstream file back. Returns the error to throw.
 */
/** A step's error with what the far side said last (HAProxy's refusal), on one line. */
function said(e: Error): string {
  const last = e instanceof CutoverError ? e.details.detail?.at(-1) : undefined;
  return last ? `${e.message}: ${last}` : e.message;
}

async function undoSwitch(
  link: BalancerLink,
  stage: ResolvedStage,
  pools: Pools,
  error: Error,
  emit: Emit,
): Promise<Error> {
  const b = link.config;
  const detail = error instanceof CutoverError ? error.details.detail : undefined;
  const failed = `blue-green: the balancer's switch from ${pools.live} to ${pools.idle} failed: ${said(error)}`;
  if (b.type !== "haproxy") return error;
  const apply = async (cmds: readonly Cmd[], title: string) => {
    const refused = await Promise.all(
      cmds.map((c) =>
        runStep({ executor: link.executor, emit }, title, [c]).then(
          () => undefined,
          (e: Error) => said(e),
        ),
      ),
    );
    return refused.filter((m) => m !== undefined);
  };
  const bg = stage.blueGreen!;
  const back = await apply(setPoolState(bg, b, pools.live, "ready"), `put ${pools.live} back in service`);
  if (back.length > 0)
    return new CutoverError("balancer", `${failed}; and ${pools.live} could not be put back in service`, {
      state: `the balancer may serve both pools or part of one: ${back.join("; ")}`,
      detail,
      fix: `check the servers of ${describeBalancer(b)} (\`show servers state ${b.backend}\`) and put one pool in service by hand`,
    });
  const left = await apply(setPoolState(bg, b, pools.idle, "drain"), `take ${pools.idle} out of service`);
  for (const m of left) emit({ type: "warning", message: m });
  return new CutoverError("balancer", `${failed}; ${pools.live} serves again (the switch was undone)`, {
    state: `${pools.idle} keeps its release, out of service`,
    detail,
    fix: `check ${describeBalancer(b)} (its servers of ${pools.idle}), then run the deploy again`,
  });
}

/** A history line on every host of both pools: who switched the balancer where, and how fast. */
export async function recordSwitch(
  stage: ResolvedStage,
  event: "switch" | "switch-back",
  report: PoolSwitch,
  who: string,
  emit: Emit,
): Promise<void> {
  const targets = openTargets(stage, stage.hosts);
  const reason = `balancer: ${report.from} -> ${report.to}${report.switchMs === null ? "" : `; only ${report.to} answered after ${report.switchMs} ms`}`;
  try {
    await onEveryHost(targets, (t) =>
      runStep({ executor: t.executor, emit }, "record the switch", [
        appendHistory(
          layout(t.host.path),
          pathEntry({
            event,
            outcome: "ok",
            stage: stage.name,
            host: t.host.name,
            who,
            at: new Date().toISOString(),
            reason,
            release: report.release,
            duration_ms: report.switchMs === null ? null : Math.round(report.switchMs),
          }),
        ),
      ]).catch((e: Error) => emit({ type: "warning", host: t.host.name, message: e.message })),
    );
  } finally {
    await targets.close();
  }
}
