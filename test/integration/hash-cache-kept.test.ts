import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { deploy, loadStage } from "../../src/index.js";
import { fixture } from "../helpers/fixture.js";
import { ownCaches } from "../helpers/scratch.js";

/**
 * The source index's hashes are kept for the next run even when this run stops before a host has
 * its upload (a lock held elsewhere, a failed plan): the files it hashed are not hashed again.
 */
ownCaches();
const fx = fixture();
after(() => fx.cleanup());
const sha = (text: string) => createHash("sha256").update(text).digest("hex");

/** The hash the cache keeps for a source file (engine/hash-cache.ts: a header, six fields a file). */
function cachedHash(name: string): string | undefined {
  const dir = path.join(process.env.XDG_CACHE_HOME!, "cutover", "hashes");
  const fields = readFileSync(path.join(dir, readdirSync(dir)[0]!), "utf8")
    .split("\0")
    .slice(1);
  for (let i = 0; i + 6 <= fields.length; i += 6) if (fields[i] === name) return fields[i + 5];
  return undefined;
}

test("a deploy stopped by a lock held elsewhere still keeps the hashes its index made", async () => {
  const run = () => deploy({ stage: loadStage({ cwd: fx.app }), emit: () => undefined, command: "test" });
  // The second deploy links from the first: its index is made, and its cache written.
  for (let i = 0; i < 2; i++) assert.equal((await run()).exitCode, 0);
  fx.file("changed.php", "<?php // changed\n");
  // A file changed within the last second is not cached (engine/hash-cache.ts).
  await new Promise((r) => setTimeout(r, 1100));
  const lock = path.join(fx.deployPath, ".cutover", "lock");
  mkdirSync(lock);
  const owner = { token: "t", who: "someone", machine: "elsewhere", machine_id: "elsewhere", pid: 1 };
  writeFileSync(
    path.join(lock, "owner.json"),
    `${JSON.stringify({ ...owner, since: new Date().toISOString(), command: "cutover deploy" })}\n`,
  );
  await assert.rejects(run(), /is locked by someone/);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(cachedHash("changed.php"), sha("<?php // changed\n"));
});
