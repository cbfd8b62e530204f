import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { writeProbeApp } from "../helpers/php-app.js";
import { type Fpm, startFpm } from "../helpers/web.js";

/**
 * The PHP helpers (a FastCGI client and a script any pool would run) that the warm-up and the smoke
 * checks write to .cutover/tmp are gone when the run ends, however it ends before the switch.
 */
const fx = fixture("helpers removed");
const build = writeProbeApp(fx);
let fpm: Fpm;
const helpers = () => {
  const tmp = path.join(fx.deployPath, ".cutover/tmp");
  return existsSync(tmp) ? readdirSync(tmp).filter((name) => name.startsWith("php-")) : [];
};
const config = (extra: Record<string, unknown>) =>
  fx.writeConfig({
    shared_dirs: [],
    shared_files: [],
    writable_dirs: [],
    hooks: { build },
    php: { fpm: [{ socket: fpm.socket, reset: "opcache" }], warmup: ["lib"] },
    ...extra,
  });

before(async () => {
  fpm = await startFpm(path.join(fx.dir, "fpm"), { validateTimestamps: true, children: 2 });
  config({});
  const r = await cutover(["deploy", "-q"], fx.app);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await fpm?.stop();
  fx.cleanup();
});

for (const [what, smoke] of [
  ["a smoke HTTP check fails", { http: [{ path: "public/health.php", expect_body: "not what it says" }] }],
  ["a smoke command fails after the warm-up", { commands: ["false"] }],
] as const) {
  test(`${what}: the deploy fails and leaves no PHP helpers behind`, async () => {
    config({ smoke });
    const r = await cutover(["deploy"], fx.app);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(helpers(), []);
  });
}
