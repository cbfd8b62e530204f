import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { gitOrigin } from "../helpers/git-origin.js";

interface Row {
  at: string;
  event: string;
  release: string;
  previous: string | null;
  revision: { commit: string; author?: string; subject?: string; ref?: string } | null;
  who: string;
  outcome: string;
  hosts: Record<string, string>;
}

/** `cutover log`: the revision log over two hosts, from real deploys, a failed one and a rollback. */
const fx = fixture();
after(() => fx.cleanup());
const origin = gitOrigin(path.join(fx.dir, "origin"));
const paths = ["a", "b"].map((n) => path.join(fx.dir, `host ${n}`));
for (const p of paths) {
  mkdirSync(path.join(p, "shared"), { recursive: true });
  writeFileSync(path.join(p, "shared/.env"), "K=v\n");
}
const config = (extra: Record<string, unknown> = {}) =>
  fx.writeConfig(
    { strategy: "git", repository: origin.bare, ref: "main", ...extra },
    paths.map((p, i) => ({ name: `web${i + 1}`, path: p, roles: i === 1 ? ["second"] : [] })),
  );

test("log: commit, author, subject, who, outcome per run; failures and rollbacks included; --json and --limit", async () => {
  config();
  const c1 = origin.commit({ "index.php": "<?php echo 1;\n" }, "Add the front page");
  assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
  const c2 = origin.commit({ "index.php": "<?php echo 2;\n" }, "Second version");
  assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
  origin.commit({ "index.php": "<?php echo 3;\n" }, "Broken on web2");
  config({ hooks: { before_switch: [{ run: "exit 9", roles: ["second"] }] } });
  assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 1);
  config();
  assert.equal((await cutover(["rollback", "-q"], fx.app)).code, 0);

  const r = await cutover(["--json", "log"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const rows = json<Row[]>(r);
  assert.deepEqual(
    rows.map((x) => [x.event, x.revision?.subject, x.outcome]),
    [
      ["rollback", "Add the front page", "ok"],
      ["deploy", "Broken on web2", "failed"],
      ["deploy", "Second version", "ok"],
      ["deploy", "Add the front page", "ok"],
    ],
  );
  assert.equal(rows[0]!.revision!.commit, c1);
  assert.equal(rows[2]!.revision!.commit, c2);
  assert.deepEqual(Object.keys(rows[2]!.hosts).sort(), ["web1", "web2"]);
  assert.equal(rows[2]!.revision!.author, "Ada Author <ada@example.test>");
  assert.equal(rows[2]!.revision!.ref, "refs/heads/main");
  assert.match(rows[0]!.who, /@/);
  assert.equal(rows[0]!.previous, rows[2]!.release);

  // The history line itself carries the commit's details (the log outlives pruned metadata).
  const journal = readFileSync(path.join(paths[1]!, ".cutover/history.jsonl"), "utf8");
  assert.match(
    journal,
    new RegExp(
      `"revision":"${c2}","revision_info":\\{"ref":"refs/heads/main","author":"Ada Author <ada@example.test>","date":"[^"]+","subject":"Second version"\\}`,
    ),
  );

  const text = await cutover(["log", "--limit", "2"], fx.app);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^when\s+event\s+release\s+commit\s+author\s+subject\s+who\s+outcome/);
  assert.match(
    text.stdout,
    new RegExp(`rollback \\(from ${rows[2]!.release}\\)\\s+${rows[0]!.release}\\s+${c1.slice(0, 12)}`),
  );
  assert.match(text.stdout, /Broken on web2/);
  assert.doesNotMatch(text.stdout, /Second version/, "--limit 2");
  const bad = await cutover(["log", "--limit", "0"], fx.app);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--limit: expected a positive whole number/);
});
