import { cpSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { fuzzRound } from "../helpers/fuzz-run.js";
import { trashEmptied } from "../helpers/tree.js";

/**
 * Property test of host state on a local target: many seeds of junk in releases/, metadata and
 * .cutover/tmp, odd `current` links and symlinked deploy paths, before deploy, rollback, cleanup
 * and doctor. A failing seed is named in the assertion and can be replayed alone.
 */
const SEEDS = Number(process.env.CUTOVER_FUZZ_SEEDS ?? 40);
const fx = fixture();
after(() => fx.cleanup());
const baseline = path.join(fx.dir, "baseline");

test("baseline: three good releases and a failed one", async () => {
  for (let i = 0; i < 3; i++) {
    fx.file("src/lib.php", `<?php function version() { return 'v${i}'; }\n`);
    const r = await cutover(["deploy", "-q"], fx.app);
    if (r.code !== 0) throw new Error(r.stderr);
  }
  fx.writeConfig({ hooks: { build: ["exit 3"] } });
  await cutover(["deploy", "-q"], fx.app);
  fx.writeConfig();
  await trashEmptied(fx.deployPath); // the failed release's removal
  cpSync(fx.deployPath, baseline, { recursive: true, verbatimSymlinks: true });
});

test(`${SEEDS} seeds of hostile host state: only cutover's own changes, shared/ intact, current complete`, async () => {
  for (let seed = 1; seed <= SEEDS; seed++) await fuzzRound(fx, baseline, seed, (p) => ({ path: p }));
});
