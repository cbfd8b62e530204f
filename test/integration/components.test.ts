import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { parts } from "../helpers/parts.js";
import { assertCurrentComplete, snapshot } from "../helpers/tree.js";

interface Result {
  component: string;
  ok: boolean;
  release: string;
  hosts: { host: string; serving: string | null }[];
}
interface All {
  components: Result[];
  notStarted: string[];
}
interface Tagged {
  component: string;
  id?: string;
  event?: string;
  release?: string | null;
  ok?: boolean;
}

const p = parts();
const { fx, paths } = p;
after(() => fx.cleanup());
const live = (dir: string) => path.basename(realpathSync(path.join(dir, "current")));
const read = (dir: string, rel: string) => readFileSync(path.join(dir, rel), "utf8");
const trees = () => ({
  api: snapshot(paths.api),
  admin: snapshot(paths.admin),
  worker: snapshot(paths.worker),
});
const first: Record<string, string> = {};
let apiSecond = "";

test("deploy without --component deploys every component, in config order, each into its own deploy path", async () => {
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const all = json<All>(r);
  assert.deepEqual(
    all.components.map((c) => [c.component, c.ok]),
    [
      ["api", true],
      ["admin", true],
      ["worker", true],
    ],
  );
  assert.deepEqual(all.notStarted, []);
  assert.ok(r.stderr.indexOf("component api (1 of 3)") < r.stderr.indexOf("component admin (2 of 3)"));
  for (const c of all.components) {
    const dir = paths[c.component as keyof typeof paths];
    first[c.component] = c.release;
    assert.equal(live(dir), c.release);
    assertCurrentComplete(dir);
    assert.equal(read(dir, "current/public/index.php"), `<?php echo '${c.component} v1';\n`);
    assert.equal(
      read(dir, "shared/.env"),
      `PART=${c.component}\n`,
      "shared paths seeded from its own source",
    );
    assert.equal(read(dir, "current/built-for"), c.component, "hooks see CUTOVER_COMPONENT");
    assert.ok(existsSync(path.join(dir, ".cutover/history.jsonl")));
    assert.equal(existsSync(path.join(dir, "current/api")), false, "a part ships only its own directory");
  }
  assert.equal(existsSync(path.join(fx.deployPath, "current")), false, "no release of the whole codebase");
});

test("deploy --component api changes api only: admin and worker are byte-identical", async () => {
  const before = trees();
  writeFileSync(path.join(paths.admin, "shared/storage/uploads/by-app.txt"), "written by admin");
  const adminBefore = snapshot(paths.admin);
  fx.file("api/public/index.php", "<?php echo 'api v2';\n");
  fx.file("admin/public/index.php", "<?php echo 'admin v2';\n");
  const r = await cutover(["--json", "deploy", "--component", "api"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const result = json<Result>(r);
  assert.equal(result.component, "api");
  apiSecond = result.release;
  assert.notEqual(apiSecond, first.api);
  assert.equal(live(paths.api), apiSecond);
  assert.equal(read(paths.api, "current/public/index.php"), "<?php echo 'api v2';\n");
  assert.deepEqual(snapshot(paths.admin), adminBefore, "admin's releases, current, shared/ and .cutover/");
  assert.deepEqual(snapshot(paths.worker), before.worker);
  assert.equal(read(paths.admin, "current/public/index.php"), "<?php echo 'admin v1';\n");
  assertCurrentComplete(paths.api);
});

test("rollback needs --component when there are several; rollback --component api leaves the others live", async () => {
  const before = trees();
  const bare = await cutover(["rollback"], fx.app);
  assert.equal(bare.code, 2);
  assert.match(
    bare.stderr,
    /^error: rollback: .* defines 3 components; name one with --component \(api, admin, worker\)/,
  );
  assert.deepEqual(trees(), before, "nothing changed");

  const r = await cutover(["--json", "rollback", "--component", "api"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(json<Result>(r).component, "api");
  assert.equal(live(paths.api), first.api);
  assertCurrentComplete(paths.api);
  assert.deepEqual(snapshot(paths.admin), before.admin);
  assert.deepEqual(snapshot(paths.worker), before.worker);
  assert.equal(live(paths.admin), first.admin);
});

test("releases and history show the components apart, in text and in --json", async () => {
  const rows = json<Tagged[]>(await cutover(["--json", "releases"], fx.app));
  assert.deepEqual(
    rows.map((r) => [r.component, r.id]),
    [
      ["api", apiSecond],
      ["api", first.api],
      ["admin", first.admin],
      ["worker", first.worker],
    ],
  );
  const history = json<Tagged[]>(await cutover(["--json", "history"], fx.app));
  assert.deepEqual(
    history.map((h) => [h.component, h.event, h.release]),
    [
      ["api", "deploy", first.api],
      ["api", "deploy", apiSecond],
      ["api", "rollback", first.api],
      ["admin", "deploy", first.admin],
      ["worker", "deploy", first.worker],
    ],
  );
  const text = await cutover(["releases"], fx.app);
  assert.equal(text.code, 0, text.stderr);
  const sections = text.stdout.split(/^component (\w+):\n/m).slice(1);
  const releaseIds = (section: string) => section.match(/^\d{8}T\d{6}Z/gm);
  assert.deepEqual(
    [sections[0], releaseIds(sections[1]!), sections[2], releaseIds(sections[3]!), sections[4]],
    ["api", [apiSecond, first.api], "admin", [first.admin], "worker"],
    text.stdout,
  );
  const one = json<Tagged[]>(await cutover(["--json", "history", "--component", "admin"], fx.app));
  assert.deepEqual(
    one.map((h) => [h.component, h.event]),
    [["admin", "deploy"]],
  );
});

test("verify and cleanup take --component; without it they cover every component", async () => {
  const rows = json<Tagged[]>(await cutover(["--json", "verify"], fx.app));
  assert.deepEqual(
    rows.map((r) => [r.component, r.ok]),
    [
      ["api", true],
      ["admin", true],
      ["worker", true],
    ],
  );
  const before = trees();
  const r = await cutover(["--json", "cleanup", "--component", "worker"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    json<Tagged[]>(r).map((c) => c.component),
    ["worker"],
  );
  assert.deepEqual(snapshot(paths.api), before.api);
  assert.deepEqual(snapshot(paths.admin), before.admin);
});

test("snapshot restore and diff FROM TO need --component; with it they touch that component only", async () => {
  const created = await cutover(["--json", "snapshot", "create", "--component", "api"], fx.app);
  assert.equal(created.code, 0, created.stderr);
  const [row] = json<{ component: string; id: string }[]>(created);
  assert.equal(row!.component, "api");
  writeFileSync(path.join(paths.api, "shared/.env"), "PART=changed\n");
  const before = trees();
  for (const args of [
    ["snapshot", "restore", row!.id],
    ["diff", "test", first.api!, apiSecond],
  ]) {
    const r = await cutover(args, fx.app);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(
      r.stderr,
      /^error: (snapshot restore|diff): .* defines 3 components; name one with --component/,
    );
  }
  assert.deepEqual(trees(), before);
  const diff = await cutover(["--json", "diff", "test", first.api!, apiSecond, "--component", "api"], fx.app);
  assert.equal(diff.code, 0, diff.stderr);
  assert.deepEqual(
    json<{ component: string; modified: string[] }[]>(diff).map((d) => [d.component, d.modified]),
    [["api", ["public/index.php"]]],
  );
  const restored = await cutover(["snapshot", "restore", row!.id, "--component", "api"], fx.app);
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal(read(paths.api, "shared/.env"), "PART=api\n");
  assert.deepEqual(snapshot(paths.admin), before.admin);
  assert.deepEqual(snapshot(paths.worker), before.worker);
});

test("webhooks say which component was deployed", async () => {
  const bodies: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      bodies.push(JSON.parse(body) as Record<string, unknown>);
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    p.writeConfig({
      api: {},
      admin: {
        path: "admin part",
        notify: [{ url: `http://127.0.0.1:${port}/hook`, events: ["succeeded"] }],
      },
      worker: { path: paths.worker, keep_releases: 2 },
    });
    const r = await cutover(["deploy", "--component", "admin"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      bodies.map((b) => [b.event, b.stage, b.component, b.release]),
      [["succeeded", "test", "admin", live(paths.admin)]],
    );
  } finally {
    server.close();
    p.writeConfig();
  }
});

test("unknown component names are a usage error listing the known ones, with nothing changed", async () => {
  const before = trees();
  for (const args of [
    ["deploy", "--component", "apii"],
    ["rollback", "--component", "nope"],
    ["releases", "--component", "x"],
    ["snapshot", "create", "--component", "x"],
  ]) {
    const r = await cutover(args, fx.app);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(
      r.stderr,
      /^error: --component: no component "\w+" in .*cutover\.yaml \(components: api, admin, worker\)\n {2}fix: /,
    );
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
  const init = await cutover(["init", "--component", "api", "--dry-run"], fx.app);
  assert.equal(init.code, 2);
  assert.match(init.stderr, /^error: --component does not apply to init/);
  assert.deepEqual(trees(), before);
});

test("a component that fails stops the run there: earlier ones stay live on their new release, later ones are not started", async () => {
  const before = trees();
  const adminLive = live(paths.admin);
  p.writeConfig({
    api: {},
    admin: { path: "admin part", hooks: { build: ["echo broken build >&2; exit 7"] } },
    worker: { path: paths.worker, keep_releases: 2 },
  });
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 1, r.stderr);
  const all = json<All>(r);
  assert.deepEqual(
    all.components.map((c) => [c.component, c.ok]),
    [
      ["api", true],
      ["admin", false],
    ],
  );
  assert.deepEqual(all.notStarted, ["worker"]);
  assert.match(r.stderr, /not started after that failure: worker/);
  assert.equal(live(paths.api), all.components[0]!.release);
  assertCurrentComplete(paths.api);
  assert.equal(live(paths.admin), adminLive, "admin never switched");
  assertCurrentComplete(paths.admin);
  assert.deepEqual(snapshot(paths.worker), before.worker);
  p.writeConfig();
});

test("a lock held on one component ends a deploy of all there, naming it and what finished before it", async () => {
  const lock = path.join(paths.admin, ".cutover/lock");
  mkdirSync(lock);
  const owner = { token: "t", who: "someone", pid: 1, machine: "elsewhere", since: "2026-01-01T00:00:00Z" };
  writeFileSync(path.join(lock, "owner.json"), JSON.stringify({ ...owner, command: "cutover deploy" }));
  const [admin, worker] = [snapshot(paths.admin), snapshot(paths.worker)];
  fx.file("api/public/index.php", "<?php echo 'api v4';\n");
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 3, r.stderr);
  const { error, components, notStarted } = json<
    { error: { message: string; state: string; fix: string } } & All
  >(r);
  assert.match(error.message, /^component admin: local: .* is locked by someone/);
  // A script reading --json still learns what went live before the failure.
  assert.deepEqual(
    components.map((c) => [c.component, c.ok]),
    [["api", true]],
  );
  assert.equal(live(paths.api), components[0]!.release);
  assert.deepEqual(notStarted, ["worker"]);
  assert.equal(error.state, "admin: nothing was changed; finished before it: api");
  assert.match(error.fix, /\(with --component admin\)$/);
  assert.equal(read(paths.api, "current/public/index.php"), "<?php echo 'api v4';\n");
  assertCurrentComplete(paths.api);
  assert.deepEqual([snapshot(paths.admin), snapshot(paths.worker)], [admin, worker]);
  rmSync(lock, { recursive: true });
});

test("--component on a config without components is a usage error", async () => {
  writeFileSync(fx.config, readFileSync(fx.config, "utf8").replace(/^components:[\s\S]*?(?=^stages:)/m, ""));
  const r = await cutover(["deploy", "--component", "api"], fx.app);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: --component api: .* defines no components/);
  p.writeConfig();
});

test("components whose deploy paths overlap are refused before anything runs", async () => {
  const before = trees();
  p.writeConfig({ api: {}, admin: { path: "api/admin" }, worker: { path: paths.worker } });
  const r = await cutover(["deploy"], fx.app);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: .*cutover\.yaml: components\.admin\.path: .* overlaps component api/);
  assert.deepEqual(trees(), before);
  p.writeConfig();
});

test("a config error in the last component stops a deploy of all before the first one runs", async () => {
  const before = trees();
  fx.file("api/public/index.php", "<?php echo 'api v3';\n");
  p.writeConfig({ api: {}, admin: { path: "admin part" }, worker: { path: paths.worker, source: "gone" } });
  const r = await cutover(["deploy"], fx.app);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: .*cutover\.yaml: components\.worker\.source: .*gone is not a directory\n/);
  assert.deepEqual(trees(), before, "api was not deployed either");
  p.writeConfig();
});

test("a component path that is a system directory is refused naming components.NAME.path, not the host's path", async () => {
  // Self-contained (the deploy paths may not exist yet when this test runs alone).
  const state = () => [fx.deployPath, paths.worker].map((d) => (existsSync(d) ? snapshot(d) : null));
  const before = state();
  p.writeConfig({ api: {}, admin: { path: "/etc" }, worker: { path: paths.worker } });
  const r = await cutover(["deploy"], fx.app);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /^error: .*cutover\.yaml: components\.admin\.path: \/etc on host local is a system directory/,
  );
  assert.deepEqual(state(), before);
  p.writeConfig();
});

test("a component's deploy path that is a symlink to another's on the host is refused: nothing of the other is switched", async () => {
  // Self-contained: a deploy path of its own, where api's directory links to admin's.
  const root = path.join(fx.dir, "linked parts");
  p.writeConfig({ api: {}, admin: { path: "admin part" } }, [{ path: root }]);
  const admin = path.join(root, "admin part");
  const first = await cutover(["deploy", "--component", "admin"], fx.app);
  assert.equal(first.code, 0, first.stderr);
  symlinkSync("admin part", path.join(root, "api"));
  const before = snapshot(admin);
  for (const args of [["deploy"], ["deploy", "--component", "api"], ["cleanup", "--component", "api"]]) {
    const r = await cutover(args, fx.app);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(
      r.stderr,
      /error: (component api: )?local: .*\/api is .*\/admin part on the host, .* another component's deploy path/,
    );
    assert.deepEqual(snapshot(admin), before, `${args.join(" ")} changed nothing of admin`);
  }
  assert.equal(read(admin, "current/built-for"), "admin", "admin's path still serves admin");
  p.writeConfig();
});

test("read-only commands go on past a component whose host does not answer, and exit with its failure", async () => {
  // worker's only host is an SSH host on a port nothing listens on; api and admin are local.
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  p.writeConfig(
    { worker: { roles: ["jobs"] }, api: { roles: ["web"] }, admin: { path: "admin part", roles: ["web"] } },
    [
      { path: fx.deployPath, roles: ["web"] },
      { name: "jobs1", host: "127.0.0.1", port, user: "nobody", path: "/srv/jobs", roles: ["jobs"] },
    ],
  );
  for (const part of ["api", "admin"]) {
    const d = await cutover(["deploy", "-q", "--component", part], fx.app);
    assert.equal(d.code, 0, d.stderr);
  }
  const r = await cutover(["releases"], fx.app);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^error: component worker: jobs1: /m);
  assert.deepEqual(
    [...r.stdout.matchAll(/^component (\w+):$/gm)].map((m) => m[1]),
    ["api", "admin"],
    r.stdout,
  );
  const rows = json<Tagged[]>(await cutover(["--json", "releases"], fx.app));
  assert.deepEqual([...new Set(rows.map((row) => row.component))], ["api", "admin"]);
  p.writeConfig();
});
