import assert from "node:assert/strict";
import { realpathSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";

const fx = fixture("health command");
after(() => fx.cleanup());
const live = () => path.basename(realpathSync(path.join(fx.deployPath, "current")));

test("a health check command that never returns fails after timeout × retries and switches back", async () => {
  fx.writeConfig();
  assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
  const before = live();
  // command_timeout bounds this test without the fix (each attempt killed after it instead).
  fx.writeConfig({
    command_timeout: 15,
    health_check: { command: "sleep 300", timeout: 1, retries: 2, interval: 0 },
  });
  const started = Date.now();
  const r = await cutover(["deploy"], fx.app);
  const took = Date.now() - started;
  assert.equal(r.code, 1, r.stderr);
  // `timeout` is per attempt for a command as for a URL; command_timeout is not the bound.
  assert.ok(took < 12_000, `the deploy took ${took} ms for 2 attempts of 1 s`);
  assert.match(r.stderr, /error: local: health check failed after 2 attempts: .*exit 124, timed out/);
  assert.equal(live(), before);
});
