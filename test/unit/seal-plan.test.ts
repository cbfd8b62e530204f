import assert from "node:assert/strict";
import { test } from "node:test";
import type { ResolvedStage } from "../../src/config/resolve.js";
import { hostFacts } from "../helpers/facts.js";
import { firstHostDeployPlan } from "../helpers/plan.js";
import { testStage } from "../helpers/stage.js";

/** Which seal a deploy plans: the quick one after a delta upload only when nothing but cutover's own steps follow it. */
const ROOT = "/srv/app";
const live = {
  id: "20261127T100000Z",
  state: "live",
  stage: "prod",
  who: "a@b",
  revision: null,
  started_at: "x",
  checksum: `sha256:${"a".repeat(64)}`,
};

function planOf(stage: ResolvedStage, lines: string[] = [`meta ${JSON.stringify(live)}`]) {
  const facts = hostFacts(
    ROOT,
    [
      "lock acquired",
      "root ok",
      "writable yes",
      `current link releases/${live.id}`,
      `release ${live.id}`,
      ...lines,
      "shared dir storage",
      "shared file .env",
      "avail 100",
    ],
    true,
  );
  return firstHostDeployPlan(stage, facts);
}

function sealOf(stage: ResolvedStage, lines?: string[]) {
  const seal = planOf(stage, lines).prepare.find((s) => s.kind === "seal");
  assert.ok(seal?.kind === "seal");
  return seal;
}

const plain = testStage({
  sharedDirs: ["storage"],
  sharedFiles: [".env"],
  writableDirs: [{ path: "var/cache", mode: "0775" }],
  hosts: [{ name: "web", path: ROOT, roles: [] }],
});

test("a delta upload followed only by shared links and writable dirs: the seal relists just those", () => {
  assert.deepEqual(sealOf(plain).afterUpload, { shared: ["storage", ".env"], writable: ["var/cache"] });
});

test("a build hook after the upload, or no delta base: the seal lists the whole release", () => {
  const built = testStage({ ...plain, hooks: { ...plain.hooks, build: [{ run: "make" }] } });
  assert.equal(sealOf(built).afterUpload, undefined);
  const { checksum: _none, ...unrecorded } = live;
  assert.equal(sealOf(plain, [`meta ${JSON.stringify(unrecorded)}`]).afterUpload, undefined);
});

test("a delta upload comes right after the step marked as making the release directory (prepareHost runs it in the upload's round trip)", () => {
  const built = testStage({ ...plain, hooks: { ...plain.hooks, build: [{ run: "make" }] } });
  for (const stage of [plain, built]) {
    const steps = planOf(stage).prepare;
    const upload = steps.findIndex((s) => s.kind === "transfer" && s.delta !== undefined);
    assert.ok(upload > 0, "a delta upload is planned");
    const before = steps[upload - 1]!;
    assert.equal(before.kind === "run" && before.title, "create release directory");
    assert.equal(before.kind === "run" && before.makesRelease, true);
    assert.ok(before.kind === "run" && before.cmds.at(-1)?.label?.startsWith("make the release directory"));
  }
});
