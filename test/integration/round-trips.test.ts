import assert from "node:assert/strict";
import path from "node:path";
import { after, test } from "node:test";
import { callsIn, type Entry, runCounted, stepEnded } from "../helpers/counting.js";
import { fixture } from "../helpers/fixture.js";
import { ownCaches } from "../helpers/scratch.js";

/**
 * The switch skew stays small only if little happens on a host between "prepared" and "switched":
 * at most 2 round trips (issue 13). Counted on real local targets through a wrapping executor, in
 * the order they happen together with the engine's events.
 */
ownCaches();
const fx = fixture();
after(() => fx.cleanup());
const hosts = ["a", "b"].map((n, i) => ({ name: `web${i + 1}`, path: path.join(fx.dir, `host ${n}`) }));

/** Calls to `host` after its step `from` ended and before its step `to` ended. */
function callsBetween(log: readonly Entry[], host: string, from: string, to: string): number {
  const [start, end] = [stepEnded(log, host, from), stepEnded(log, host, to)];
  assert.ok(start >= 0 && end > start, `${host}: ${from} then ${to}`);
  return callsIn(log, host, start, end);
}

test("at most 2 round trips per host between 'mark ready' and the switch; negative control: the prepare steps are counted", async () => {
  fx.writeConfig({}, hosts);
  for (const version of ["v1", "v2"]) {
    fx.file("src/lib.php", `<?php function version() { return '${version}'; }\n`);
    const { log } = await runCounted(fx.app);
    for (const h of hosts) {
      const between = callsBetween(log, h.name, "mark ready", "switch current");
      assert.ok(
        between >= 1 && between <= 2,
        `${h.name}: ${between} round trips between prepared and switched`,
      );
      assert.ok(callsBetween(log, h.name, "upload files", "mark ready") >= 1, "the counter sees calls");
    }
  }
});
