import assert from "node:assert/strict";
import { readlinkSync, realpathSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { assertCurrentComplete } from "../helpers/tree.js";

/**
 * Two hosts that serve different releases (a rollback killed after the first host's switch, or
 * one rolled back with --hosts): what `rollback` says must lead somewhere, and change nothing.
 */
const fx = fixture("disagree");
after(() => fx.cleanup());
const paths = ["a", "b"].map((name) => path.join(fx.dir, `host ${name}`));
const live = (p: string) => path.basename(realpathSync(path.join(p, "current")));
const links = () => paths.map((p) => readlinkSync(path.join(p, "current")));

test("hosts on different live releases: each error names the hosts and a command that works; nothing is switched", async () => {
  fx.writeConfig({}, [
    { name: "a", path: paths[0] },
    { name: "b", path: paths[1] },
  ]);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await cutover(["--json", "deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    ids.push(json<{ release: string }>(r).release);
  }
  const one = await cutover(["rollback", "--hosts", "a"], fx.app);
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual(paths.map(live), [ids[1], ids[2]]);
  const before = links();

  // No target: the hosts' previous releases differ, because their live ones do.
  const plain = await cutover(["rollback"], fx.app);
  assert.equal(plain.code, 1, plain.stderr);
  assert.match(plain.stderr, /hosts serve different releases: a → .*, b → /);
  assert.match(plain.stderr, new RegExp(`--to ${ids[1]} --hosts b`));
  // Before, --to the release a serves failed on a ("already live") with no way on.
  const to = await cutover(["rollback", "--to", ids[1]!], fx.app);
  assert.equal(to.code, 1, to.stderr);
  assert.match(to.stderr, new RegExp(`a: release ${ids[1]} is already live`));
  assert.match(to.stderr, new RegExp(`fix: .*cutover rollback --to ${ids[1]} --hosts b`));
  assert.deepEqual(links(), before, "nothing switched");
  // What it says works.
  const rest = await cutover(["rollback", "--to", ids[1]!, "--hosts", "b"], fx.app);
  assert.equal(rest.code, 0, rest.stderr);
  assert.deepEqual(paths.map(live), [ids[1], ids[1]]);
  for (const p of paths) assertCurrentComplete(p, ["bootstrap/cache"]);
});
