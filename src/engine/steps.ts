import type { Cmd } from "../shell/cmd.js";
import type { Executor, RunResult } from "../transport/executor.js";
import { TransportError } from "../transport/executor.js";
import type { Emit } from "./events.js";
import { explainExit, StepError } from "./step-error.js";

export interface StepContext {
  readonly executor: Executor;
  readonly emit: Emit;
  /** The far side's limit for this step (default: the target's command_timeout). */
  readonly timeoutSeconds?: number;
  /** Report output lines as they come (hooks, whose output people read); listings stay quiet. */
  readonly stream?: boolean;
}

/** Runs commands as one step; a non-zero exit or a lost transport becomes a StepError naming the host. */
export async function runStep(ctx: StepContext, title: string, cmds: readonly Cmd[]): Promise<RunResult> {
  const { executor, emit } = ctx;
  const host = executor.host;
  let result: RunResult;
  try {
    result = await executor.run(cmds, {
      timeoutSeconds: ctx.timeoutSeconds,
      onLine: ctx.stream ? (stream, line) => emit({ type: "output", host, stream, line }) : undefined,
    });
  } catch (error) {
    if (error instanceof TransportError) throw new StepError(host, title, error.message, error.stderr);
    throw error;
  }
  if (result.code !== 0) throw new StepError(host, title, explainExit(result.code), result.stderr);
  return result;
}

/** Times a step and reports its start and end. */
export async function timed<T>(emit: Emit, host: string, step: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  emit({ type: "step", host, step, status: "start" });
  try {
    const value = await work();
    emit({ type: "step", host, step, status: "ok", ms: Date.now() - started });
    return value;
  } catch (error) {
    emit({ type: "step", host, step, status: "failed", ms: Date.now() - started });
    throw error;
  }
}
