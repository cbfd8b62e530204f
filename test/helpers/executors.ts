import type { ResolvedHost } from "../../src/config/resolve.js";
import { type ExecutorFactory, systemExecutors } from "../../src/engine/targets.js";
import type { Transfer } from "../../src/plan/steps.js";
import type { Cmd } from "../../src/shell/cmd.js";
import type { Executor, RunOptions, RunResult, TransferStats } from "../../src/transport/executor.js";

/**
 * The real executors (local or SSH, as each host is), with each one's `run` (and `transfer`, when
 * given) going through these first: a test's way to count, delay, fail or corrupt round trips.
 */
export function wrapExecutors(wrap: {
  run?: (
    real: Executor,
    host: ResolvedHost,
    cmds: readonly Cmd[],
    options?: RunOptions,
  ) => Promise<RunResult>;
  transfer?: (
    real: Executor,
    host: ResolvedHost,
    t: Transfer,
    options?: RunOptions,
  ) => Promise<TransferStats>;
}): ExecutorFactory {
  return (host, stage, controlPath) => {
    const real = systemExecutors(host, stage, controlPath);
    return {
      host: real.host,
      run: (cmds, options) => (wrap.run ? wrap.run(real, host, cmds, options) : real.run(cmds, options)),
      transfer: (t, options) =>
        wrap.transfer ? wrap.transfer(real, host, t, options) : real.transfer(t, options),
      connect: () => real.connect(),
      interrupt: () => real.interrupt(),
      close: () => real.close(),
    };
  };
}
