import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";

const TOKEN = "tok-s3cr3t-'42'";
const fx = fixture();
fx.writeConfig({
  hooks: {
    build: ['echo "token=${API_TOKEN}" > built.txt', 'echo "building with ${API_TOKEN}"'],
    after_switch: ['echo "warned about ${API_TOKEN}" >&2; exit 1'],
  },
});
after(() => fx.cleanup());

test("a value from the environment is used by the deploy and never printed (dry run, JSON, -v, warnings)", async () => {
  const dry = await cutover(["--json", "-n", "deploy"], fx.app, { API_TOKEN: TOKEN });
  assert.equal(dry.code, 0, dry.stderr);
  assert.ok(!dry.stdout.includes("tok-s3cr3t") && !dry.stderr.includes("tok-s3cr3t"), dry.stdout);
  assert.match(JSON.stringify(json(dry)), /\[REDACTED\]/);

  const r = await cutover(["-v", "--json", "deploy"], fx.app, { API_TOKEN: TOKEN });
  assert.equal(r.code, 4, r.stderr);
  assert.equal(readFileSync(path.join(fx.deployPath, "current/built.txt"), "utf8"), `token=${TOKEN}\n`);
  assert.match(r.stderr, /building with \[REDACTED\]/);
  assert.match(r.stderr, /warned about \[REDACTED\]/);
  assert.ok(!`${r.stdout}${r.stderr}`.includes("tok-s3cr3t"));
});

test("an unset variable stops before anything changes, naming file:line, key and variable", async () => {
  const history = () => readFileSync(path.join(fx.deployPath, ".cutover/history.jsonl"), "utf8");
  const before = history();
  const line =
    readFileSync(fx.config, "utf8")
      .split("\n")
      .findIndex((l) => l.includes("token=${")) + 1;
  const r = await cutover(["deploy"], fx.app, {});
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr.split("\n")[0],
    `error: ${fx.config}:${line}: hooks.build[0]: environment variable API_TOKEN is not set`,
  );
  assert.match(r.stderr, /fix: export API_TOKEN/);
  assert.equal(history(), before, "nothing ran on the host");
});
