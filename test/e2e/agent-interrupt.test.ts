import assert from "node:assert/strict";
import { existsSync, mkdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { stringify } from "yaml";
import { type AgentProcess, liveCommit, startAgent, until } from "../helpers/agent.js";
import { fixture } from "../helpers/fixture.js";
import { gitOrigin } from "../helpers/git-origin.js";
import { killEach, processesWith, settled } from "../helpers/interrupt.js";
import { assertCurrentComplete } from "../helpers/tree.js";

/**
 * SIGTERM and SIGKILL while the agent deploys (a build hook sleeps): `current` stays on a complete
 * release, no lock is left (SIGTERM) or only a dead holder's (SIGKILL), and a restarted agent carries on.
 */
const fx = fixture("agent interrupt");
const running: AgentProcess[] = [];
after(async () => {
  for (const a of running) await a.stop("SIGKILL");
  fx.cleanup();
});

for (const signal of ["SIGTERM", "SIGKILL"] as const) {
  test(`${signal} during an agent's deploy leaves a complete current; a restarted agent carries on`, async () => {
    const dir = path.join(fx.dir, signal);
    mkdirSync(dir, { recursive: true });
    const origin = gitOrigin(dir);
    const deployPath = path.join(dir, "deploy 'path'");
    const slow = path.join(dir, "slow");
    // A marker no other process has: the test finds the sleeping hook through /proc by it.
    const marker = `${signal === "SIGTERM" ? 41 : 42}.${process.pid}`;
    const config = path.join(dir, "cutover.yaml");
    writeFileSync(
      config,
      stringify({
        strategy: "git",
        repository: origin.bare,
        ref: "main",
        agent: { poll: 1 },
        hooks: { build: [`if [ -e '${slow}' ]; then sleep ${marker}; fi`] },
        stages: { production: { hosts: [{ path: deployPath }] } },
      }),
    );
    const start = async () => {
      const a = await startAgent(config, dir);
      running.push(a);
      return a;
    };
    const first = origin.commit({ "index.php": "<?php echo 1;\n" }, "one");
    const a = await start();
    await until(() => liveCommit(deployPath) === first, 30_000, "first commit live");
    const good = path.basename(realpathSync(path.join(deployPath, "current")));

    writeFileSync(slow, "");
    const second = origin.commit({ "index.php": "<?php echo 2;\n" }, "two");
    await until(() => processesWith(`sleep ${marker}`).length > 0, 30_000, "the build hook runs");
    const code = await a.stop(signal);
    if (signal === "SIGTERM") {
      assert.equal(code, 0, "a clean stop exits 0");
      assert.ok(a.lines.some((l) => l.event === "agent.stopped"));
      assert.deepEqual(await settled(`sleep ${marker}`, 5000), [], "the engine stopped the hook");
      assert.equal(existsSync(path.join(deployPath, ".cutover/lock")), false, "no lock left");
    } else {
      // Nothing ran the engine's cleanup: the hook is an orphan (stopped here, by its PID) and the lock stays.
      killEach(processesWith(`sleep ${marker}`));
      assert.equal(existsSync(path.join(deployPath, ".cutover/lock")), true, "the dead agent's lock is left");
    }
    assert.equal(path.basename(realpathSync(path.join(deployPath, "current"))), good, "current never moved");
    assertCurrentComplete(deployPath);

    rmSync(slow);
    const b = await start();
    await until(() => liveCommit(deployPath) === second, 30_000, "the restarted agent deployed the commit");
    assertCurrentComplete(deployPath);
    if (signal === "SIGKILL")
      assert.ok(
        b.lines.some((l) => l.event === "engine.warning" && /cleared a stale lock/.test(String(l.message))),
        "the dead holder's lock was proven stale and cleared",
      );
    assert.equal(await b.stop(), 0);
    assert.equal(existsSync(path.join(deployPath, ".cutover/lock")), false);
  });
}
