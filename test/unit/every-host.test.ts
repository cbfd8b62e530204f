import assert from "node:assert/strict";
import { test } from "node:test";
import { joinFailures, onEveryHost } from "../../src/engine/every-host.js";
import { CutoverError, EXIT } from "../../src/errors.js";

test("joinFailures: one failure is itself; several lead with the first, its code and exit code, the rest as detail", () => {
  const a = new CutoverError("step", "a: cannot connect", { detail: ["ssh: refused"], exitCode: EXIT.usage });
  const b = new CutoverError("step", "b: cannot connect", { detail: ["ssh: timed out"] });
  assert.equal(joinFailures([a]), a);
  const joined = joinFailures([a, b]) as CutoverError;
  assert.equal(joined.message, "a: cannot connect; 1 more host failed (below)");
  assert.equal(joined.code, "step");
  assert.equal(joined.exitCode, EXIT.usage);
  assert.deepEqual(joined.details.detail, ["ssh: refused", "b: cannot connect", "  ssh: timed out"]);
  assert.match((joinFailures([a, b, b]) as Error).message, /; 2 more hosts failed/);
  // Not a user's error: a bug, passed on as it is (with its stack).
  const bug = new TypeError("x is undefined");
  assert.equal(joinFailures([a, bug]), bug);
});

test("onEveryHost waits for every host before it fails", async () => {
  const ended: string[] = [];
  await assert.rejects(
    onEveryHost(["fast", "slow"], async (name) => {
      if (name === "fast") throw new CutoverError("step", `${name}: failed`);
      await new Promise((r) => setTimeout(r, 50));
      ended.push(name);
    }),
    /fast: failed/,
  );
  assert.deepEqual(ended, ["slow"]);
});
