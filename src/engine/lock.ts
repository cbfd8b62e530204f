import { randomBytes } from "node:crypto";
import os from "node:os";
import { CutoverError, EXIT } from "../errors.js";
import { checkApart, checkInnerDirs } from "../plan/deploy.js";
import { type HostFacts, parseFacts } from "../plan/facts.js";
import { factsProbe } from "../plan/facts-probe.js";
import { type Layout, layout } from "../plan/layout.js";
import { describeOwner, isStale, type LockOwner } from "../plan/lock.js";
import { releaseLock, releaseLockAfter, UNLOCKED } from "../plan/records.js";
import { type Cmd, cmd } from "../shell/cmd.js";
import type { Emit } from "./events.js";
import { joinFailures } from "./every-host.js";
import { machineIdentity, processState } from "./machine.js";
import { runStep } from "./steps.js";
import { interruptOnSignal, type Target } from "./targets.js";

export interface LockedTarget extends Target {
  readonly layout: Layout;
  readonly facts: HostFacts;
}

export function newOwner(who: string, command: string, now: Date): LockOwner {
  const self = processState(process.pid);
  return {
    token: randomBytes(12).toString("hex"),
    who,
    machine: os.hostname(),
    machine_id: machineIdentity(),
    pid: process.pid,
    pid_start: self.kind === "running" ? self.start : undefined,
    since: now.toISOString(),
    command,
  };
}

/** Whether a lock's holder is provably gone, judged from this machine. */
export function holderGone(owner: LockOwner | undefined): boolean {
  return isStale(owner, machineIdentity(), processState);
}

export async function readFacts(
  target: Target,
  sharedPaths: readonly string[],
  owner?: LockOwner,
): Promise<HostFacts> {
  const { stdout } = await runStep({ executor: target.executor, emit: () => undefined }, "read host state", [
    factsProbe(target.host.path, [...sharedPaths, ...(target.host.apart ?? [])], owner),
  ]);
  try {
    return parseFacts(target.host.path, stdout.toString("utf8"), owner !== undefined);
  } catch (error) {
    throw new CutoverError(
      "target",
      `${target.host.name}: cannot read the state of ${target.host.path}: ${(error as Error).message}`,
      {
        fix: "check what the login prints on the host (rc files writing to stdout) and that it has a POSIX sh and coreutils",
      },
    );
  }
}

type Attempt = { target: Target; facts: HostFacts };

async function tryLock(
  target: Target,
  sharedPaths: readonly string[],
  owner: LockOwner,
  emit: Emit,
): Promise<Attempt> {
  const started = Date.now();
  let facts = await readFacts(target, sharedPaths, owner);
  emit({
    type: "timing",
    host: target.host.name,
    step: "connect, lock and read host",
    ms: Date.now() - started,
  });
  if (facts.lock.kind === "held" && holderGone(facts.lock.owner)) {
    emit({
      type: "warning",
      host: target.host.name,
      message: `cleared a stale lock: its holder ${describeOwner(facts.lock.owner)} is gone`,
    });
    await runStep({ executor: target.executor, emit }, "clear stale lock", [
      releaseLock(layout(target.host.path), facts.lock.owner!),
    ]);
    facts = await readFacts(target, sharedPaths, owner);
  }
  return { target, facts };
}

export interface LockOptions {
  readonly sharedPaths: readonly string[];
  readonly owner: LockOwner;
  readonly waitMs: number;
  readonly emit: Emit;
  /** Told each time a host's lock is held by another run and this one waits for it. */
  readonly onWait?: () => void;
  /** Ends the attempt: the running lock step on each host is stopped, a wait is cut short. */
  readonly signal?: AbortSignal;
}

const interrupted = () =>
  new CutoverError("interrupted", "interrupted by a signal while taking the lock", {
    state: "nothing was changed",
    exitCode: EXIT.interrupted,
  });

/** Waits `ms`, or less if `signal` fires first. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Takes the lock on every host, all or nothing: if any host is busy, the locks just taken are given
 * back before waiting or failing, so two runs over overlapping hosts can never deadlock.
 * Facts are read in the same exchange as the lock.
 */
export async function lockAll(targets: readonly Target[], options: LockOptions): Promise<LockedTarget[]> {
  const deadline = Date.now() + options.waitMs;
  const aborted = () => options.signal?.aborted === true;
  let told = false;
  for (;;) {
    if (aborted()) throw interrupted();
    // Only the lock's round trips are stopped by the signal, never the giving back of a lock taken.
    const stopInterrupting = interruptOnSignal(targets, options.signal);
    const settled = await Promise.allSettled(
      targets.map((t) => tryLock(t, options.sharedPaths, options.owner, options.emit)),
    ).finally(stopInterrupting);
    const got = settled.flatMap((s) =>
      s.status === "fulfilled" && s.value.facts.lock.kind === "acquired" ? [s.value] : [],
    );
    if (got.length === targets.length && !aborted()) {
      const locked = got.map(({ target, facts }) => ({ ...target, layout: layout(target.host.path), facts }));
      try {
        // Through a symlinked .cutover or releases/ every later step would act somewhere else.
        for (const t of locked) {
          checkInnerDirs(t.host, t.facts);
          checkApart(t.host, t.facts);
        }
      } catch (error) {
        await unlockAll(locked, options.owner);
        await undoCreated(locked);
        throw error;
      }
      for (const { target, facts } of got)
        for (const message of facts.problems)
          options.emit({ type: "warning", host: target.host.name, message });
      return locked;
    }
    const given = got.map(({ target, facts }) => ({ ...target, layout: layout(target.host.path), facts }));
    await unlockAll(given, options.owner);
    await undoCreated(given);
    // A host whose answer could not be read may hold our lock: give it back (only if it is ours).
    await Promise.all(
      settled.flatMap((s, i) =>
        s.status === "rejected"
          ? [
              targets[i]!.executor.run([releaseLock(layout(targets[i]!.host.path), options.owner)]).catch(
                () => undefined,
              ),
            ]
          : [],
      ),
    );

    // A step stopped by the signal fails as killed: the signal is the reason.
    if (aborted()) throw interrupted();
    const failures = settled.flatMap((s) => (s.status === "rejected" ? [s.reason as unknown] : []));
    if (failures.length > 0) throw joinFailures(failures);
    const problem = settled
      .map((s) => (s as PromiseFulfilledResult<Attempt>).value)
      .find((a) => a.facts.lock.kind !== "acquired")!;
    const name = problem.target.host.name;
    const lock = problem.facts.lock;
    if (lock.kind === "error") {
      throw new CutoverError(
        "lock",
        `${name}: cannot take the lock in ${problem.target.host.path}: ${lock.message}`,
        {
          fix: lock.fix ?? "check that the deploy path is writable by this user and the disk is not full",
          exitCode: lock.fix ? EXIT.usage : undefined,
        },
      );
    }
    if (lock.kind === "held" && Date.now() < deadline) {
      options.onWait?.();
      if (!told) {
        told = true;
        const seconds = Math.ceil((deadline - Date.now()) / 1000);
        options.emit({
          type: "info",
          host: name,
          message: `locked by ${describeOwner(lock.owner)}; waiting up to ${seconds} s for it (--lock-wait)`,
        });
      }
      await pause(500 + Math.random() * 500, options.signal);
      continue;
    }
    const owner = lock.kind === "held" ? lock.owner : undefined;
    throw new CutoverError(
      "locked",
      `${name}: ${problem.target.host.path} is locked by ${describeOwner(owner)}`,
      {
        fix: "wait for that run to finish (or pass --lock-wait SECONDS); if it is dead, run `cutover unlock`",
        state: "nothing was changed",
        exitCode: EXIT.locked,
      },
    );
  }
}

/** Targets whose lock went back in their last round trip of a run: unlockAll has nothing to do there. */
const givenBack = new WeakSet<LockedTarget>();

/**
 * A host's lock, given back in its last round trip of the run, its records or the removal of old
 * releases after them (engine/finalize.ts): one round trip fewer.
 */
export interface TrailingUnlock {
  readonly cmd: Cmd;
  /** Told that round trip's stdout: the lock is marked given back if its release said so. */
  ran(stdout: Buffer): void;
}

export function trailingUnlock(t: LockedTarget, owner: LockOwner): TrailingUnlock {
  return {
    cmd: releaseLockAfter(t.layout, owner),
    ran: (stdout) => {
      if (stdout.subarray(-UNLOCKED.length).toString() === UNLOCKED) givenBack.add(t);
    },
  };
}

/** Gives the locks back; never fails (a lock that cannot be removed is reported by the next run). */
export async function unlockAll(
  locked: readonly LockedTarget[],
  owner: LockOwner,
  emit?: Emit,
): Promise<void> {
  await Promise.all(
    locked.map(async (t) => {
      if (givenBack.has(t)) return;
      const cmds = [releaseLock(t.layout, owner)];
      try {
        const result = await t.executor.run(cmds);
        if (result.code !== 0) throw new Error(result.stderr.trim());
      } catch (error) {
        emit?.({
          type: "warning",
          host: t.host.name,
          message: `could not release the lock: ${(error as Error).message}; run \`cutover unlock\``,
        });
      }
    }),
  );
}

/** What taking the lock created (deploy path, .cutover) is removed again when the run stops before preparing. */
export async function undoCreated(locked: readonly LockedTarget[]): Promise<void> {
  await Promise.all(
    locked
      .filter((t) => t.facts.created.length > 0)
      .map((t) => {
        const dirs = [t.layout.meta, ...(t.facts.created.includes("root") ? [t.layout.root] : [])];
        return t.executor
          .run([cmd(["rmdir", "--", ...dirs], { mayFail: true, quiet: true })])
          .catch(() => undefined);
      }),
  );
}
