import assert from "node:assert/strict";
import path from "node:path";
import { after, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { snapshot } from "../helpers/tree.js";

/** --dry-run renders the same run plan the engine applies: every phase, per host, with the undo. */
const fx = fixture();
after(() => fx.cleanup());
const hosts = ["a", "b"].map((n) => ({ name: `web-${n}`, path: path.join(fx.dir, `host ${n}`) }));

interface PlanJson {
  action: string;
  release: string;
  phases: { phase: string; hosts: Record<string, { title: string; lines: string[] }[]> }[];
}

test("deploy --dry-run shows clean-up, prepare, batches with their undo, health, record, after hooks and pruning", async () => {
  fx.writeConfig({}, hosts);
  for (let i = 0; i < 2; i++) assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
  fx.writeConfig(
    {
      keep_releases: 1,
      rolling: { batch: 1 },
      health_check: { command: "true" },
      hooks: { before_batch: ["echo drain"], after_switch: ["echo restart workers"] },
    },
    hosts,
  );
  const before = hosts.map((h) => snapshot(h.path));
  const text = await cutover(["--dry-run", "deploy"], fx.app);
  assert.equal(text.code, 0, text.stderr);
  for (const expected of [
    /== prepare/,
    /rsync .*--link-dest=/,
    /barrier: every host ready/,
    /== switch[\s\S]*host web-a[\s\S]*before_batch hooks[\s\S]*echo drain[\s\S]*\(batch 1 of 2\)[\s\S]*undo if any host fails/,
    /\(batch 2 of 2\)/,
    /\[rename a new link over current, fsync, read it back\] .*releases\/\d{8}T\d{6}Z/,
    /\[put current back as it was \(its old link text, or no link\)\] .* releases\/\d{8}T\d{6}Z releases\/\d{8}T\d{6}Z/,
    /== health[\s\S]*a failure switches every host back/,
    /== record/,
    /== after[\s\S]*echo restart workers/,
    /== prune[\s\S]*remove old releases/,
  ])
    assert.match(text.stdout, expected);
  const plan = json<PlanJson>(await cutover(["--json", "--dry-run", "deploy"], fx.app));
  assert.deepEqual(
    plan.phases.map((p) => p.phase),
    ["clean", "prepare", "switch", "php-reset", "health", "record", "after", "prune"],
  );
  assert.deepEqual(Object.keys(plan.phases[2]!.hosts), ["web-a", "web-b"]);
  assert.ok(!JSON.stringify(plan).includes('"hooks":'), "the JSON is the plan, not the config");
  assert.deepEqual(
    hosts.map((h) => snapshot(h.path)),
    before,
    "nothing changed",
  );
});

test("rollback --dry-run shows the switch back, its undo and after_rollback, with the health check as a warning", async () => {
  fx.writeConfig({ health_check: { command: "true" }, hooks: { after_rollback: ["echo rolled"] } }, hosts);
  const r = await cutover(["--dry-run", "rollback"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^rollback \S+ \(dry run: nothing was changed\)/);
  assert.match(r.stdout, /== switch[\s\S]*undo if any host fails/);
  assert.match(r.stdout, /health check \(a failure is a warning\)/);
  assert.match(r.stdout, /== after[\s\S]*echo rolled/);
  assert.doesNotMatch(r.stdout, /== prepare/);
});
