import assert from "node:assert/strict";
import { after, test } from "node:test";
import { runCounted, scriptsDuring } from "../helpers/counting.js";
import { fixture } from "../helpers/fixture.js";
import { ownCaches } from "../helpers/scratch.js";

/**
 * A first deploy's seal lists and hashes the whole release; its scan for paths through current
 * reads every file (no findings of a previous release to reuse), so it needs no listing and runs
 * first in the listing's round trip: one round trip for both, and the scan still finds what it did.
 */
ownCaches();
const fx = fixture();
after(() => fx.cleanup());

test("a first deploy lists and scans in one round trip; a path through current is still found", async () => {
  fx.writeConfig({});
  fx.file("src/boot.php", `<?php require '${fx.deployPath}/current/vendor/autoload.php';\n`);
  const { log } = await runCounted(fx.app);
  assert.equal(scriptsDuring(log, "local", "record manifest and checksum").length, 1);
  const warnings = log.flatMap((e) =>
    e.kind === "event" && e.event.type === "warning" ? [e.event.message] : [],
  );
  assert.ok(
    warnings.some((w) => w.includes("current/") && w.includes("1 place") && w.includes("src/boot.php:1:")),
    warnings.join("\n"),
  );
});
