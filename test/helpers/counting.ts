import assert from "node:assert/strict";
import type { EngineEvent } from "../../src/engine/events.js";
import { type ExecutorFactory, systemExecutors } from "../../src/engine/targets.js";
import { deploy, loadStage } from "../../src/index.js";
import type { Executor } from "../../src/transport/executor.js";

/** A deploy's round trips to each host and the engine's events, in the order they happened. */
export type Entry = { kind: "call"; host: string } | { kind: "event"; event: EngineEvent };

/** The real executors, each call (script or rsync) logged to `log` first. */
export function counting(log: Entry[]): ExecutorFactory {
  return (host, stage, controlPath) => {
    const real = systemExecutors(host, stage, controlPath);
    const wrapped: Executor = {
      host: real.host,
      run: (cmds, o) => {
        log.push({ kind: "call", host: host.name });
        return real.run(cmds, o);
      },
      transfer: (t, o) => {
        log.push({ kind: "call", host: host.name });
        return real.transfer(t, o);
      },
      connect: () => real.connect(),
      interrupt: () => real.interrupt(),
      close: () => real.close(),
    };
    return wrapped;
  };
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

/** A deploy of the app in `cwd` through counting executors (it must succeed); its log. */
export async function deployCounted(cwd: string): Promise<Entry[]> {
  const log: Entry[] = [];
  const result = await deploy({
    stage: loadStage({ cwd }),
    emit: (event) => log.push({ kind: "event", event }),
    command: "cutover deploy (test)",
    executors: counting(log),
  });
  assert.equal(result.ok, true);
  return log;
}
