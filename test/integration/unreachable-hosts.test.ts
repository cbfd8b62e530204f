import assert from "node:assert/strict";
import { test } from "node:test";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { freePort } from "../helpers/ports.js";

// Against a fleet, a command names every host it could not reach, not only the first: fixing one
// host and running again only to meet the next is what users of fleet tools complain about.
test("two unreachable hosts: deploy, releases, history, log and diff name both, exit 1, one line first", async () => {
  const fx = fixture("unreachable");
  try {
    const ports = [await freePort(), await freePort()];
    fx.writeConfig({}, [
      { name: "a", host: "127.0.0.1", port: ports[0], path: "/srv/a" },
      { name: "b", host: "127.0.0.1", port: ports[1], path: "/srv/b" },
    ]);
    for (const args of [["deploy"], ["releases"], ["history"], ["log"], ["diff"]]) {
      const r = await cutover(args, fx.app);
      assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
      const lines = r.stderr.trim().split("\n");
      const first = lines.findIndex((l) => l.startsWith("error: "));
      assert.ok(first >= 0, r.stderr);
      assert.match(lines[first]!, /error: [ab]: cannot connect to 127\.0\.0\.1:\d+: connection refused/);
      assert.match(lines[first]!, /1 more host failed/, r.stderr);
      for (const [name, port] of [
        ["a", ports[0]],
        ["b", ports[1]],
      ] as const)
        assert.match(
          r.stderr,
          new RegExp(`${name}: cannot connect to 127\\.0\\.0\\.1:${port}`),
          `${args[0]}: ${r.stderr}`,
        );
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    }
  } finally {
    fx.cleanup();
  }
});
