import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { AGENT_DEFAULTS } from "../../src/config/agent-settings.js";
import { parseConfigText } from "../../src/config/load.js";
import { resolveStage } from "../../src/config/resolve.js";
import { CutoverError } from "../../src/errors.js";
import { scratchDir } from "../helpers/scratch.js";

const file = path.join(scratchDir("agent cfg "), "cutover.yaml");
const resolve = (text: string) => resolveStage(parseConfigText(text, file), file, "p");

test("agent: defaults when absent; a stage's agent: replaces the top level's whole, as every block does", () => {
  const none = resolve("stages:\n  p:\n    hosts: [{path: /srv/a}]\n").agent!;
  assert.deepEqual(
    { ...none, secrets: none.secrets.length },
    {
      listen: AGENT_DEFAULTS.listen,
      port: AGENT_DEFAULTS.port,
      secrets: 0,
      pollSeconds: 60,
      backoffMaxSeconds: 900,
      bodyLimitBytes: 1024 * 1024,
      ratePerMinute: 60,
      stateFile: ".cutover/agent/state.json",
    },
  );
  const set = resolve(
    "agent: {port: 9000, poll: 5}\nstages:\n  p:\n    agent: {poll: 0, rate_limit: 10}\n    hosts: [{path: /srv/a}]\n",
  ).agent!;
  assert.deepEqual([set.port, set.pollSeconds, set.ratePerMinute], [AGENT_DEFAULTS.port, 0, 10]);
});

test("agent: secrets are secrets: never in JSON, and redacted wherever printed", () => {
  const stage = resolve('agent: {secrets: ["hook-secret-1"]}\nstages:\n  p:\n    hosts: [{path: /srv/a}]\n');
  assert.equal(stage.agent!.secrets[0]!.reveal(), "hook-secret-1");
  assert.ok(!JSON.stringify(stage).includes("hook-secret-1"));
  assert.ok(stage.secrets.values.includes("hook-secret-1"));
});

test("agent: a mistyped key or a bad value is an error naming the key", () => {
  const error = (text: string) => {
    try {
      resolve(text);
    } catch (e) {
      assert.ok(e instanceof CutoverError);
      return e.message;
    }
    assert.fail("expected an error");
  };
  const hosts = "stages:\n  p:\n    hosts: [{path: /srv/a}]\n";
  assert.match(error(`agent: {prot: 1}\n${hosts}`), /agent\.prot: unknown key; did you mean "port"\?/);
  assert.match(error(`agent: {port: 70000}\n${hosts}`), /agent\.port: /);
  assert.match(error(`agent: {body_limit: 10}\n${hosts}`), /agent\.body_limit: /);
  assert.match(
    error(`agent: {secrets: [""]}\n${hosts}`),
    /agent\.secrets\[0\]: a webhook secret must not be empty/,
  );
});
