import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { BIN, cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { assertCurrentComplete } from "../helpers/tree.js";

const KILLS = 30;
const fx = fixture();
after(() => fx.cleanup());
for (let i = 0; i < 300; i++) fx.file(`src/gen/d${i % 10}/f${i}.php`, `<?php // ${"x".repeat(2000)} ${i}\n`);
const hooks = {
  build: ["sleep 0.1", "echo built > build.txt"],
  before_switch: ["sleep 0.05"],
  after_switch: ["sleep 0.05"],
  after_rollback: ["sleep 0.05"],
};
fx.writeConfig({ hooks, keep_releases: 3 });

const sharedState = () => ({
  env: readFileSync(path.join(fx.deployPath, "shared/.env"), "utf8"),
  uploads: readdirSync(path.join(fx.deployPath, "shared/storage/uploads")).sort(),
});

/** Starts a verbose deploy (or rollback), SIGKILLs it after `delayMs`, and returns the last step it had started. */
function killedDeploy(delayMs: number, command = "deploy"): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, "-v", command], {
      cwd: fx.app,
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), delayMs);
    child.on("close", () => {
      clearTimeout(timer);
      const steps = [...stderr.matchAll(/^ {2}(?:…|✓|✗) \S+ (.+?)(?: \d+ ms)?$/gm)].map((m) => m[1]!);
      resolve(steps.at(-1) ?? "(before any step)");
    });
  });
}

test(`${KILLS} deploys killed with SIGKILL at spread-out moments never break current or shared/`, async () => {
  let r = await cutover(["deploy", "-q"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const started = Date.now();
  r = await cutover(["deploy", "-q"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const duration = Date.now() - started;
  const shared = sharedState();

  const phases = new Map<string, number>();
  for (let i = 0; i < KILLS; i++) {
    fx.file("src/lib.php", `<?php function version() { return 'v${i}'; }\n`);
    const delay = Math.round(duration * (0.25 + (0.85 * (i + 0.5)) / KILLS));
    const phase = await killedDeploy(delay);
    phases.set(phase, (phases.get(phase) ?? 0) + 1);
    await new Promise((res) => setTimeout(res, 50)); // let orphaned children of the killed run finish

    assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
    assert.deepEqual(sharedState(), shared, `shared/ changed after a kill during "${phase}"`);
    const lockLeft = existsSync(path.join(fx.deployPath, ".cutover/lock"));

    const next = await cutover(["deploy"], fx.app);
    assert.equal(next.code, 0, `deploy after a kill during "${phase}" failed:\n${next.stderr}`);
    if (lockLeft) assert.match(next.stderr, /cleared a stale lock/);
    assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
    assert.match(
      readFileSync(path.join(fx.deployPath, "current/src/lib.php"), "utf8"),
      new RegExp(`'v${i}'`),
    );
  }
  process.stderr.write(`kills by step: ${JSON.stringify(Object.fromEntries(phases))}\n`);
  assert.ok(phases.size >= 4, `kills should spread over the phases, got ${[...phases.keys()].join(", ")}`);
});

test("rollbacks killed with SIGKILL at spread-out moments (its check, switch, records, hooks) never break current or shared/", async () => {
  const KILLED = 12;
  fx.file("src/lib.php", "<?php function version() { return 'base'; }\n");
  let r = await cutover(["deploy", "-q"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const shared = sharedState();
  const deployNew = async (v: string) => {
    fx.file("src/lib.php", `<?php function version() { return '${v}'; }\n`);
    const d = await cutover(["deploy", "-q"], fx.app);
    assert.equal(d.code, 0, d.stderr);
  };
  await deployNew("timed");
  const started = Date.now();
  r = await cutover(["rollback", "-q"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const duration = Date.now() - started;
  const phases = new Map<string, number>();
  for (let i = 0; i < KILLED; i++) {
    await deployNew(`r${i}`);
    const phase = await killedDeploy(Math.round(duration * (0.2 + (1.0 * (i + 0.5)) / KILLED)), "rollback");
    phases.set(phase, (phases.get(phase) ?? 0) + 1);
    await new Promise((res) => setTimeout(res, 50));
    // Killed after its switch and before its records, the release is live with its old state
    // (superseded) until the next run mends it: a complete release all the same.
    assertCurrentComplete(fx.deployPath, ["bootstrap/cache"], ["ready", "live", "superseded"]);
    assert.deepEqual(sharedState(), shared, `shared/ changed after a kill during "${phase}"`);
    const next = await cutover(["deploy", "-q"], fx.app);
    assert.equal(next.code, 0, `deploy after a rollback killed during "${phase}" failed:\n${next.stderr}`);
    assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
  }
  process.stderr.write(`rollback kills by step: ${JSON.stringify(Object.fromEntries(phases))}\n`);
  assert.ok(phases.size >= 3, `kills should spread over the steps, got ${[...phases.keys()].join(", ")}`);
});
