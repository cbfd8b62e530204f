import assert from "node:assert/strict";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { parts } from "../helpers/parts.js";
import { type SshRig, sshHost, sshRig } from "../helpers/sshd.js";
import { assertCurrentComplete, snapshot } from "../helpers/tree.js";

interface Result {
  component: string;
  ok: boolean;
  release: string;
  hosts: { host: string; serving: string | null }[];
}
interface Row {
  component: string;
  id: string;
  hosts: Record<string, { state: string; live: boolean }>;
}

let rig: SshRig;
const p = parts();
const { fx } = p;
const roots = [path.join(fx.dir, "host 1"), path.join(fx.dir, "host 2")];
/** api and admin on both hosts; worker only where the host has the jobs role (web2). */
const dirs = (part: "api" | "admin part" | "worker") => roots.map((r) => path.join(r, part));
const live = (dir: string) =>
  existsSync(path.join(dir, "current")) ? path.basename(realpathSync(path.join(dir, "current"))) : null;
const trees = (part: "api" | "admin part" | "worker") =>
  dirs(part).map((d) => (existsSync(d) ? snapshot(d) : null));
const first: Record<string, string> = {};

before(async () => {
  rig = sshRig();
  const servers = [await rig.start({ address: "127.0.0.31" }), await rig.start({ address: "127.0.0.32" })];
  p.writeConfig(
    { api: {}, admin: { path: "admin part" }, worker: { roles: ["jobs"] } },
    servers.map((s, i) =>
      sshHost(rig, s, roots[i]!, { name: `web${i + 1}`, roles: i === 1 ? ["jobs"] : [] }),
    ),
  );
});
after(async () => {
  await rig.stopAll();
  fx.cleanup();
});

test("over SSH: deploy puts every component on its hosts, each under its own deploy path", async () => {
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const results = json<{ components: Result[] }>(r).components;
  assert.deepEqual(
    results.map((c) => [c.component, c.hosts.map((h) => h.host)]),
    [
      ["api", ["web1", "web2"]],
      ["admin", ["web1", "web2"]],
      ["worker", ["web2"]],
    ],
  );
  for (const c of results) first[c.component] = c.release;
  for (const [part, name] of [
    ["api", "api"],
    ["admin part", "admin"],
  ] as const)
    for (const dir of dirs(part)) {
      assert.equal(live(dir), first[name]);
      assertCurrentComplete(dir);
      assert.equal(readFileSync(path.join(dir, "current/built-for"), "utf8"), name);
    }
  assert.equal(existsSync(dirs("worker")[0]!), false, "worker goes only to the host with its role");
  assert.equal(live(dirs("worker")[1]!), first.worker);
});

test("over SSH: deploy --component api updates api on both hosts and leaves admin and worker byte-identical", async () => {
  const [admin, worker] = [trees("admin part"), trees("worker")];
  fx.file("api/public/index.php", "<?php echo 'api v2';\n");
  fx.file("admin/public/index.php", "<?php echo 'admin v2';\n");
  const r = await cutover(["--json", "deploy", "--component", "api"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const result = json<Result>(r);
  assert.equal(result.component, "api");
  assert.notEqual(result.release, first.api);
  for (const dir of dirs("api")) {
    assert.equal(live(dir), result.release);
    assert.equal(readFileSync(path.join(dir, "current/public/index.php"), "utf8"), "<?php echo 'api v2';\n");
    assertCurrentComplete(dir);
  }
  assert.deepEqual(trees("admin part"), admin);
  assert.deepEqual(trees("worker"), worker);

  const rows = json<Row[]>(await cutover(["--json", "releases"], fx.app));
  assert.deepEqual(
    rows.map((row) => [row.component, row.id, Object.keys(row.hosts)]),
    [
      ["api", result.release, ["web1", "web2"]],
      ["api", first.api, ["web1", "web2"]],
      ["admin", first.admin, ["web1", "web2"]],
      ["worker", first.worker, ["web2"]],
    ],
  );
});

test("over SSH: rollback --component api switches api back on both hosts; the others stay live", async () => {
  const [admin, worker] = [trees("admin part"), trees("worker")];
  const r = await cutover(["--json", "rollback", "--component", "api"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(json<Result>(r).component, "api");
  for (const dir of dirs("api")) {
    assert.equal(live(dir), first.api);
    assertCurrentComplete(dir);
  }
  assert.deepEqual(trees("admin part"), admin);
  assert.deepEqual(trees("worker"), worker);
  for (const dir of dirs("admin part")) assert.equal(live(dir), first.admin);
});

test("over SSH: --hosts naming a host one component lacks is refused before any component runs", async () => {
  const all = [trees("api"), trees("admin part"), trees("worker")];
  fx.file("api/public/index.php", "<?php echo 'api v3';\n");
  const r = await cutover(["deploy", "--hosts", "web1"], fx.app);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: --hosts: no host named web1 in component worker of stage test\n/);
  assert.deepEqual([trees("api"), trees("admin part"), trees("worker")], all);

  const web2 = await cutover(["--json", "deploy", "--hosts", "web2"], fx.app);
  assert.equal(web2.code, 0, web2.stderr);
  const results = json<{ components: Result[] }>(web2).components;
  assert.deepEqual(
    results.map((c) => [c.component, c.hosts.map((h) => h.host)]),
    [
      ["api", ["web2"]],
      ["admin", ["web2"]],
      ["worker", ["web2"]],
    ],
  );
  assert.deepEqual(trees("api")[0], all[0]![0], "web1 untouched");
  assert.equal(live(dirs("api")[1]!), results[0]!.release);
});
