import assert from "node:assert/strict";
import path from "node:path";
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

test("hosts with different deploy paths (or php-fpm sockets through {name}): a usage error naming each host's; --hosts picks one", async () => {
  const [a, b] = [path.join(fx.dir, "srv a"), path.join(fx.dir, "srv b")];
  fx.writeConfig({}, [
    { name: "web1", path: a },
    { name: "web2", path: b },
  ]);
  for (const server of ["nginx", "apache"]) {
    const r = await cutover(["server-config", server, "--fpm", "/run/php.sock"], fx.app);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.equal(r.stdout, "", "no config for one host passed off as the stage's");
    const [first] = r.stderr.split("\n");
    for (const text of ["web1", a, "web2", b]) assert.ok(first!.includes(text), `${text} in: ${r.stderr}`);
    assert.match(r.stderr, /--hosts web1/, "it says what to pass");
  }
  const second = await cutover(
    ["server-config", "nginx", "--fpm", "/run/php.sock", "--hosts", "web2"],
    fx.app,
  );
  assert.equal(second.code, 0, second.stderr);
  assert.ok(second.stdout.includes(`root "${b}/current/public";`), second.stdout);
  const unknown = await cutover(
    ["server-config", "nginx", "--fpm", "/run/php.sock", "--hosts", "web3"],
    fx.app,
  );
  assert.equal(unknown.code, 2, unknown.stderr);
  assert.match(unknown.stderr, /no host named web3/);

  // One path on two machines (never contacted here), a socket per host ({name}): the address
  // differs, so does the config.
  fx.writeConfig({ php: { fpm: [{ socket: "/run/php/{name}.sock", reset: "none" }] } }, [
    { name: "web1", host: "127.0.0.2", path: a },
    { name: "web2", host: "127.0.0.3", path: a },
  ]);
  const sockets = await cutover(["server-config", "nginx"], fx.app);
  assert.equal(sockets.code, 2, sockets.stdout + sockets.stderr);
  assert.match(sockets.stderr.split("\n")[0]!, /web1.*\/run\/php\/web1\.sock.*web2.*\/run\/php\/web2\.sock/);
  const one = await cutover(["server-config", "nginx", "--hosts", "web2"], fx.app);
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, /fastcgi_pass unix:\/run\/php\/web2\.sock;/);
  const same = await cutover(["server-config", "apache", "--fpm", "/run/php.sock"], fx.app);
  assert.equal(same.code, 0, "one path, one --fpm: one config for both");
  fx.writeConfig();
});
