import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { stringify } from "yaml";
import { pullDeps, stateFile } from "../../src/agent/deps.js";
import { readState, writeState } from "../../src/agent/state.js";
import { parseConfigText } from "../../src/config/load.js";
import { resolveStage } from "../../src/config/resolve.js";

// The state file sits in the deploy path, which others may write: it is never written through a link.
const root = mkdtempSync(path.join(os.tmpdir(), "agent state links "));
after(() => rmSync(root, { recursive: true, force: true }));

const STATE = { failed: [], deliveries: ["d1"], bodies: [] };

function place(label: string) {
  const dir = mkdtempSync(path.join(root, `${label} `));
  const victim = path.join(dir, "victim");
  writeFileSync(victim, "precious\n");
  return { dir, victim, file: path.join(dir, "agent", "state.json") };
}

test("agent state: a planted symlink at a temp name is not written through", () => {
  const { dir, victim, file } = place("temp");
  mkdirSync(path.dirname(file));
  // The old temp name was predictable: the file's name, the pid, .tmp.
  symlinkSync(victim, `${file}.${process.pid}.tmp`);
  writeState(file, STATE);
  assert.equal(readFileSync(victim, "utf8"), "precious\n", "the victim is untouched");
  assert.ok(lstatSync(file).isFile(), "the state file is a regular file");
  assert.deepEqual(readState(file).state, STATE);
  assert.deepEqual(readdirSync(path.join(dir, "agent")).sort(), [
    "state.json",
    `state.json.${process.pid}.tmp`,
  ]);
});

test("agent state: a state file that is a symlink is refused, its target untouched", () => {
  const { victim, file } = place("file");
  mkdirSync(path.dirname(file));
  symlinkSync(victim, file);
  assert.throws(() => writeState(file, STATE), /state\.json is a symlink/);
  assert.throws(() => readState(file), /state\.json is a symlink/);
  assert.equal(readFileSync(victim, "utf8"), "precious\n");
  assert.ok(lstatSync(file).isSymbolicLink(), "the link is left as it was");
});

test("agent state: a state directory that is a symlink is refused, nothing written behind it", () => {
  const { dir, file } = place("dir");
  const elsewhere = path.join(dir, "elsewhere");
  mkdirSync(elsewhere);
  symlinkSync(elsewhere, path.dirname(file));
  assert.throws(() => writeState(file, STATE), /agent is a symlink/);
  assert.deepEqual(readdirSync(elsewhere), [], "nothing written through the link");
  assert.equal(existsSync(path.join(elsewhere, "state.json")), false);
});

test("agent state: a remembered failure's reason is stored with the stage's secrets redacted", () => {
  const deployPath = mkdtempSync(path.join(root, "redacted "));
  const secret = "a-webhook-secret-value";
  const file = path.join(deployPath, "cutover.yaml");
  const text = stringify({
    agent: { secrets: [secret] },
    stages: { prod: { hosts: [{ path: deployPath }] } },
  });
  const stage = resolveStage(parseConfigText(text, file), file, "prod");
  const never = () => Promise.reject(new Error("not called"));
  const deps = pullDeps(stage, never, never);
  deps.remember("a".repeat(40), { reason: `git said: cannot log in with ${secret}` });
  const stored = readFileSync(stateFile(stage), "utf8");
  assert.ok(!stored.includes(secret), stored);
  assert.match(readState(stateFile(stage)).state.failed[0]!.reason, /cannot log in with \[REDACTED\]$/);
});

test("agent state: a fifo planted as the state file is refused at once, never waited on", () => {
  const { file } = place("fifo");
  mkdirSync(path.dirname(file));
  execFileSync("mkfifo", [file]);
  // Opening a fifo to read waits for a writer: in the agent that would stop everything, so it runs apart.
  const code = `import { readState } from ${JSON.stringify(path.resolve("src/agent/state.ts"))};
    process.stdout.write(JSON.stringify(readState(${JSON.stringify(file)})));`;
  const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    timeout: 10_000,
    encoding: "utf8",
  });
  assert.equal(run.signal, null, "readState waited on the fifo until it was killed");
  const { state, problem } = JSON.parse(run.stdout) as ReturnType<typeof readState>;
  assert.deepEqual(state, { failed: [], deliveries: [], bodies: [] });
  assert.match(problem ?? "", /state\.json is not a regular file/);
  writeState(file, STATE);
  assert.ok(lstatSync(file).isFile(), "a write replaces the fifo with a regular file");
});

test("agent state: a symlinked .cutover in the deploy path is refused, nothing written behind it", () => {
  const deployPath = mkdtempSync(path.join(root, "inner link "));
  const elsewhere = mkdtempSync(path.join(root, "elsewhere "));
  symlinkSync(elsewhere, path.join(deployPath, ".cutover"));
  const file = path.join(deployPath, "cutover.yaml");
  const text = stringify({ stages: { prod: { hosts: [{ path: deployPath }] } } });
  const stage = resolveStage(parseConfigText(text, file), file, "prod");
  const never = () => Promise.reject(new Error("not called"));
  const deps = pullDeps(stage, never, never);
  assert.throws(() => deps.remember("a".repeat(40), { reason: "it failed" }), /\.cutover is a symlink/);
  assert.deepEqual(readdirSync(elsewhere), [], "nothing created or written through the link");
});
