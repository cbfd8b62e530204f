import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, realpathSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";

interface Row {
  id: string;
  hosts: Record<string, { state: string; live: boolean }>;
}
interface Entry {
  host: string;
  event: string;
  release: string;
}

// Two local hosts, so --hosts has something to leave out; the app is a git checkout, so results
// carry a revision.
const fx = fixture("hosts");
after(() => fx.cleanup());
const paths = ["a", "b"].map((name) => path.join(fx.dir, `host ${name}`));
const live = (p: string) => path.basename(realpathSync(path.join(p, "current")));
const git = (...args: string[]) =>
  execFileSync("git", args, { cwd: fx.app, stdio: "pipe" }).toString().trim();

test("--hosts on rollback, cleanup, releases and history touches and reports only those hosts; history --limit; rollback reports the revision", async () => {
  git("init", "-q");
  git("-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A");
  git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "app");
  const commit = git("rev-parse", "HEAD");
  fx.writeConfig({ keep_releases: 2 }, [
    { name: "a", path: paths[0] },
    { name: "b", path: paths[1] },
  ]);
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    fx.file("src/lib.php", `<?php function version() { return 'v${i}'; }\n`);
    const r = await cutover(["--json", "deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    ids.push(json<{ release: string }>(r).release);
  }

  const back = await cutover(["--json", "rollback", "--hosts", "a"], fx.app);
  assert.equal(back.code, 0, back.stderr);
  const result = json<{ release: string; revision: string | null; hosts: { host: string }[] }>(back);
  assert.deepEqual(
    result.hosts.map((h) => h.host),
    ["a"],
  );
  assert.equal(result.release, ids[2]);
  assert.equal(result.revision, `${commit}+dirty`, "the rolled-back-to release's revision");
  assert.deepEqual(paths.map(live), [ids[2], ids[3]]);

  const rows = json<Row[]>(await cutover(["--json", "releases", "--hosts", "b"], fx.app));
  assert.ok(rows.length > 0);
  for (const row of rows) assert.deepEqual(Object.keys(row.hosts), ["b"]);
  assert.ok(rows.every((row) => !(row as Row & { disagree: boolean }).disagree));

  const onDisk = () => paths.map((p) => readdirSync(path.join(p, "releases")).length);
  const before = onDisk();
  const cleaned = await cutover(["cleanup", "--hosts", "b"], fx.app);
  assert.equal(cleaned.code, 0, cleaned.stderr);
  assert.equal(onDisk()[0], before[0], "host a untouched");
  assert.ok(onDisk()[1]! <= 3, `host b keeps 2 (+ its rollback target): ${onDisk()[1]}`);

  const all = json<Entry[]>(await cutover(["--json", "history", "--limit", "100"], fx.app));
  assert.equal(all.filter((e) => e.event === "deploy").length, 8, "4 deploys × 2 hosts");
  const onlyA = json<Entry[]>(await cutover(["--json", "history", "--hosts", "a", "--limit", "100"], fx.app));
  assert.ok(onlyA.every((e) => e.host === "a"));
  assert.equal(onlyA.at(-1)!.event, "rollback");
  const limited = json<Entry[]>(await cutover(["--json", "history", "--limit", "3"], fx.app));
  assert.equal(limited.length, 3);
  assert.deepEqual(limited, all.slice(-3), "the newest 3");
});
