import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { stringify } from "yaml";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { gitOrigin } from "../helpers/git-origin.js";

/**
 * Components deployed from one repository by one `cutover deploy`: a push that lands while the
 * first component deploys (here: its after_switch hook pushes) must not give the next component
 * another commit. The ref is resolved once for the command, as it is once for all hosts.
 */
const fx = fixture();
after(() => fx.cleanup());
const origin = gitOrigin(path.join(fx.dir, "origin"));
const work = path.join(fx.dir, "origin/work tree");
const v1 = origin.commit({ "api/public/index.php": "api v1", "admin/public/index.php": "admin v1" }, "v1");
const push = `git -C '${work}' -c user.name=x -c user.email=x@x commit -q --allow-empty -m moved && git -C '${work}' push -q origin main`;

test("deploy of every component: one commit for all, though the branch moves in between", async () => {
  writeFileSync(
    fx.config,
    stringify({
      strategy: "git",
      repository: origin.bare,
      ref: "main",
      components: {
        api: { repository_path: "api", hooks: { after_switch: [push] } },
        admin: { repository_path: "admin" },
      },
      stages: { test: { hosts: [{ path: fx.deployPath }] } },
    }),
  );
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const { components } = json<{ components: { component: string; revision: string }[] }>(r);
  assert.deepEqual(
    components.map((c) => [c.component, c.revision]),
    [
      ["api", v1],
      ["admin", v1],
    ],
  );
  assert.notEqual(origin.git("rev-parse", "main"), v1, "the branch did move during the deploy");
});
