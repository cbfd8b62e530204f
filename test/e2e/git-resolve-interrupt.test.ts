import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { fixture } from "../helpers/fixture.js";
import { gitOrigin } from "../helpers/git-origin.js";
import { interruptWhen, killEach, processesWith, settled } from "../helpers/interrupt.js";
import { snapshot } from "../helpers/tree.js";

/**
 * SIGTERM (a CI job cancelled, Ctrl-C, systemd) while this machine resolves the ref: a repository
 * that does not answer (here a git whose ls-remote sleeps) must not hold cutover for the command
 * timeout (an hour by default), and its git must not outlive it (it runs in a session of its own,
 * out of reach of the signal sent to cutover's process group).
 */
const fx = fixture();
const MARKER = "41.25";
after(() => {
  killEach(processesWith(`sleep ${MARKER}`));
  fx.cleanup();
});
const origin = gitOrigin(path.join(fx.dir, "origin"));
origin.commit({ "public/index.php": "<?php echo 'v1';\n" }, "v1");
const deployPath = fx.deployPath;
mkdirSync(path.join(deployPath, "shared"), { recursive: true });
writeFileSync(path.join(deployPath, "shared/.env"), "K=v\n");
fx.writeConfig({
  strategy: "git",
  repository: origin.bare,
  ref: "main",
  source: undefined,
  exclude: undefined,
});

const bin = path.join(fx.dir, "hanging bin");
mkdirSync(bin);
const real = execFileSync("sh", ["-c", "command -v git"]).toString().trim();
writeFileSync(
  path.join(bin, "git"),
  `#!/bin/sh\nif [ "$1" = ls-remote ]; then exec sleep ${MARKER}; fi\nexec ${real} "$@"\n`,
  { mode: 0o755 },
);
const env = { PATH: `${bin}:${process.env.PATH}` };

for (const command of [["deploy"], ["pull"]]) {
  test(`${command[0]}: SIGTERM while git ls-remote hangs stops at once, and stops that git`, async () => {
    const before = snapshot(deployPath);
    const started = Date.now();
    const r = await interruptWhen(command, fx.app, `sleep ${MARKER}`, "SIGTERM", env);
    const took = Date.now() - started;
    assert.ok(r.sent, "the ls-remote ran");
    assert.equal(r.code, 130, r.stderr);
    assert.ok(took < 15_000, `cutover took ${took} ms to stop`);
    assert.deepEqual(await settled(`sleep ${MARKER}`), [], "no git left running");
    assert.deepEqual(snapshot(deployPath), before, "nothing changed on the host");
  });
}
