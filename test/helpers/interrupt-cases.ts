import assert from "node:assert/strict";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import path from "node:path";
import { cutover } from "./cli.js";
import type { Fixture } from "./fixture.js";
import { interruptWhen, settled } from "./interrupt.js";

/**
 * A marker command per phase: a shell that starts a background grandchild and waits on another, so
 * the test sees whether the whole process group on the host is stopped, not just the first child.
 */
export const marked = (marker: string) => `sh -c 'sleep ${marker} & sleep ${marker}; true'`;

export interface InterruptCase {
  readonly name: string;
  /** Config additions that plant the marker in the phase. */
  readonly config: (marker: string) => Record<string, unknown>;
  readonly command: "deploy" | "rollback" | "cleanup";
  /** Exit code: 130 before the switch; 4 after it (the release stays live, the rest skipped). */
  readonly code: number;
  /** The last history line's outcome on each host. */
  readonly outcome: string;
  readonly switched: boolean;
}

export const INTERRUPT_CASES: readonly InterruptCase[] = [
  {
    name: "deploy: build hook",
    command: "deploy",
    config: (m) => ({ hooks: { build: [marked(m)] } }),
    code: 130,
    outcome: "aborted",
    switched: false,
  },
  {
    name: "deploy: before_switch hook",
    command: "deploy",
    config: (m) => ({ hooks: { before_switch: [marked(m)] } }),
    code: 130,
    outcome: "aborted",
    switched: false,
  },
  {
    name: "deploy: smoke command",
    command: "deploy",
    config: (m) => ({ smoke: { commands: [marked(m)] } }),
    code: 130,
    outcome: "aborted",
    switched: false,
  },
  {
    name: "deploy: before_batch hook (rolling switch)",
    command: "deploy",
    config: (m) => ({ rolling: { batch: 1 }, hooks: { before_batch: [marked(m)] } }),
    code: 130,
    outcome: "aborted",
    switched: false,
  },
  // The release was never verified: every host goes back.
  {
    name: "deploy: health check command",
    command: "deploy",
    config: (m) => ({ health_check: { command: marked(m), timeout: 30, retries: 1 } }),
    code: 130,
    outcome: "aborted",
    switched: false,
  },
  {
    name: "deploy: after_switch hook",
    command: "deploy",
    config: (m) => ({ hooks: { after_switch: [marked(m)] } }),
    code: 4,
    outcome: "ok",
    switched: true,
  },
  {
    name: "rollback: before_batch hook (before the switch)",
    command: "rollback",
    config: (m) => ({ rolling: { batch: 1 }, hooks: { before_batch: [marked(m)] } }),
    code: 130,
    outcome: "aborted",
    switched: false,
  },
  {
    name: "rollback: after_rollback hook",
    command: "rollback",
    config: (m) => ({ hooks: { after_rollback: [marked(m)] } }),
    code: 4,
    outcome: "ok",
    switched: true,
  },
];

const live = (p: string) => path.basename(realpathSync(path.join(p, "current")));

/**
 * Interrupts one phase and checks what the issue asks: the running step is gone from the host (its
 * grandchildren too), the lock is released, history written, current complete and where it should be.
 */
export async function runInterruptCase(
  fx: Fixture,
  c: InterruptCase,
  marker: string,
  hosts: Record<string, unknown>[],
  deployPaths: readonly string[],
): Promise<void> {
  // A good release to roll back to, and one to roll back from.
  fx.writeConfig({}, hosts);
  for (let i = 0; i < 2; i++) assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
  const before = deployPaths.map(live);
  fx.writeConfig(c.config(marker), hosts);
  const r = await interruptWhen([c.command], fx.app, marker);
  assert.ok(r.sent, `${c.name}: the marker never ran\n${r.stderr}`);
  assert.equal(r.code, c.code, `${c.name}: exit code\n${r.stderr}`);
  assert.deepEqual(await settled(marker), [], `${c.name}: processes of the interrupted step still run`);
  for (const [i, p] of deployPaths.entries()) {
    assert.ok(!existsSync(path.join(p, ".cutover/lock")), `${c.name}: lock left on host ${i}`);
    const last = readFileSync(path.join(p, ".cutover/history.jsonl"), "utf8").trim().split("\n").at(-1)!;
    assert.match(last, new RegExp(`"event":"${c.command}","outcome":"${c.outcome}"`), `${c.name}: history`);
    if (c.switched) assert.notEqual(live(p), before[i], `${c.name}: switched`);
    else assert.equal(live(p), before[i], `${c.name}: current untouched`);
  }
  fx.writeConfig({}, hosts);
}
