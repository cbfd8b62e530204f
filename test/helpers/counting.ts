import assert from "node:assert/strict";
import type { EngineEvent } from "../../src/engine/events.js";
import type { ExecutorFactory } from "../../src/engine/targets.js";
import { deploy, loadStage, rollback } from "../../src/index.js";
import { renderScript } from "../../src/shell/cmd.js";
import { wrapExecutors } from "./executors.js";

/**
 * A run's round trips to each host (with the script's size; 0 for an rsync) and the engine's
 * events, in the order they happened.
 */
export type Entry = { kind: "call"; host: string; bytes: number } | { kind: "event"; event: EngineEvent };

/** The real executors, each call (script or rsync) logged to `log` first. */
export function counting(log: Entry[]): ExecutorFactory {
  return wrapExecutors({
    run: (real, host, cmds, o) => {
      log.push({ kind: "call", host: host.name, bytes: renderScript(cmds).length });
      return real.run(cmds, o);
    },
    transfer: (real, host, t, o) => {
      log.push({ kind: "call", host: host.name, bytes: 0 });
      return real.transfer(t, o);
    },
  });
}

/** Index in `log` where `host`'s step `step` ended, or -1. */
export function stepEnded(log: readonly Entry[], host: string, step: string): number {
  return log.findIndex(
    (e) =>
      e.kind === "event" &&
      e.event.type === "step" &&
      e.event.host === host &&
      e.event.step === step &&
      e.event.status === "ok",
  );
}

/** Calls to `host` in log[from, to). */
export function callsIn(log: readonly Entry[], host: string, from: number, to = log.length): number {
  return log.slice(from, to).filter((e) => e.kind === "call" && e.host === host).length;
}

/** Sizes of the scripts `host` was sent while its step `step` ran (from its start to its end). */
export function scriptsDuring(log: readonly Entry[], host: string, step: string): number[] {
  const isStep = (e: Entry, status: string) =>
    e.kind === "event" &&
    e.event.type === "step" &&
    e.event.host === host &&
    e.event.step === step &&
    e.event.status === status;
  const start = log.findIndex((e) => isStep(e, "start"));
  const end = log.findIndex((e) => isStep(e, "ok"));
  return log.slice(start, end).flatMap((e) => (e.kind === "call" && e.host === host ? [e.bytes] : []));
}

/** A deploy (or rollback) of the app in `cwd` through counting executors; it must succeed (`warnings`: the result's). */
export async function runCounted(
  cwd: string,
  action: "deploy" | "rollback" = "deploy",
): Promise<{ log: Entry[]; release: string; warnings: readonly string[] }> {
  const log: Entry[] = [];
  const options = {
    stage: loadStage({ cwd }),
    emit: (event: EngineEvent) => log.push({ kind: "event", event }),
    command: `cutover ${action} (test)`,
    executors: counting(log),
  };
  const result = action === "deploy" ? await deploy(options) : await rollback(options);
  assert.equal(result.ok, true, (result as { error?: Error }).error?.message);
  return { log, release: result.release, warnings: result.warnings ?? [] };
}
