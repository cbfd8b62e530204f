import assert from "node:assert/strict";
import { after, test } from "node:test";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";

/** `cutover server-config` as a user runs it: what it refuses, it says on one line and prints no config. */
const fx = fixture("server config");
after(() => fx.cleanup());

test("--webroot that leaves the release (.., ../x, public/../.., an absolute path) is a usage error naming --webroot; no config", async () => {
  for (const webroot of ["..", "../x", "public/../..", "/var/www/html", ""]) {
    for (const server of ["nginx", "apache"]) {
      const r = await cutover(
        ["server-config", server, "--fpm", "/run/php.sock", "--webroot", webroot],
        fx.app,
      );
      assert.equal(r.code, 2, `${server} --webroot ${JSON.stringify(webroot)}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, "", "no config");
      const [first] = r.stderr.split("\n");
      assert.match(first!, /--webroot/, r.stderr);
      assert.match(first!, new RegExp(JSON.stringify(webroot).replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")));
      assert.match(r.stderr, /public/, "it says what to pass");
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    }
  }
  for (const webroot of [".", "./", "public", "./public/", "web/../public"]) {
    const r = await cutover(
      ["server-config", "nginx", "--fpm", "/run/php.sock", "--webroot", webroot],
      fx.app,
    );
    assert.equal(r.code, 0, `--webroot ${webroot}: ${r.stderr}`);
    assert.match(r.stdout, /^\s*root /m);
  }
});
