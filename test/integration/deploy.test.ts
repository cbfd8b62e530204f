import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { assertCurrentComplete, snapshot, trashEmptied } from "../helpers/tree.js";

interface Result {
  ok: boolean;
  release: string;
  hosts: { host: string; serving: string | null }[];
  filesTransferred: number;
}
interface Row {
  id: string;
  hosts: Record<string, { state: string; live: boolean; onDisk: boolean }>;
  meta: { state: string; reason?: string; checksum?: string; files?: number };
}

const fx = fixture();
after(() => fx.cleanup());
const live = () => path.basename(realpathSync(path.join(fx.deployPath, "current")));
const history = () =>
  readFileSync(path.join(fx.deployPath, ".cutover/history.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

let first = "";
let second = "";

test("first deploy: current → release, shared seeded from the source, writable dir per release", async () => {
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const result = json<Result>(r);
  first = result.release;
  assert.equal(live(), first);
  assert.equal(readlinkSync(path.join(fx.deployPath, "current")), `releases/${first}`);
  assert.equal(readFileSync(path.join(fx.deployPath, "shared/.env"), "utf8"), "APP_KEY=secret\n");
  assert.ok(existsSync(path.join(fx.deployPath, "shared/storage/uploads/first.txt")));
  assert.ok(lstatSync(path.join(fx.deployPath, "current/.env")).isSymbolicLink());
  assert.equal(
    (statSync(path.join(fx.deployPath, "current/bootstrap/cache")).mode & 0o777).toString(8),
    "775",
  );
  assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
  assert.match(r.stderr, /upload files/);
});

test("second deploy: switches, keeps shared data, hard-links unchanged files", async () => {
  writeFileSync(path.join(fx.deployPath, "shared/storage/uploads/user-upload.jpg"), "written by the app");
  writeFileSync(path.join(fx.deployPath, "shared/.env"), "APP_KEY=edited-on-server\n");
  fx.file("src/lib.php", "<?php function version() { return 'v2'; }\n");
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  second = json<Result>(r).release;
  assert.notEqual(second, first);
  assert.equal(live(), second);
  assert.equal(json<Result>(r).filesTransferred, 1);
  for (const id of [first, second]) {
    const rel = path.join(fx.deployPath, "releases", id);
    assert.equal(realpathSync(path.join(rel, ".env")), path.join(realpathSync(fx.deployPath), "shared/.env"));
    assert.equal(
      readFileSync(path.join(rel, "storage/uploads/user-upload.jpg"), "utf8"),
      "written by the app",
    );
  }
  assert.equal(readFileSync(path.join(fx.deployPath, "current/.env"), "utf8"), "APP_KEY=edited-on-server\n");
  const unchanged = (id: string) =>
    statSync(path.join(fx.deployPath, "releases", id, "public/index.php")).ino;
  assert.equal(unchanged(first), unchanged(second), "unchanged file is a hard link");
  const changed = (id: string) => statSync(path.join(fx.deployPath, "releases", id, "src/lib.php")).ino;
  assert.notEqual(changed(first), changed(second));
  assert.match(readFileSync(path.join(fx.deployPath, "current/src/lib.php"), "utf8"), /v2/);
  assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
});

test("releases lists states; history records who, what and the outcome", async () => {
  const rows = json<Row[]>(await cutover(["--json", "releases"], fx.app));
  assert.deepEqual(
    rows.map((r) => [r.id, r.meta.state]),
    [
      [second, "live"],
      [first, "superseded"],
    ],
  );
  assert.ok(rows[0]!.meta.checksum?.startsWith("sha256:"));
  const h = history();
  assert.deepEqual(
    h.map((e) => [e.event, e.outcome, e.release, e.previous]),
    [
      ["deploy", "ok", first, null],
      ["deploy", "ok", second, first],
    ],
  );
  assert.ok(typeof h[1]!.who === "string" && typeof h[1]!.duration_ms === "number");
});

test("rollback goes to the previous release; rolling forward with --to works", async () => {
  let r = await cutover(["rollback"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(live(), first);
  const rows = json<Row[]>(await cutover(["--json", "releases"], fx.app));
  assert.equal(rows.find((x) => x.id === second)!.meta.state, "rolled-back");
  r = await cutover(["rollback"], fx.app);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no good release older than the live one/);
  r = await cutover(["rollback", "--to", second], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(live(), second);
  assert.deepEqual(
    history()
      .slice(-2)
      .map((e) => [e.event, e.release]),
    [
      ["rollback", first],
      ["rollback", second],
    ],
  );
});

test("a plain rollback after the next deploy goes past a release that was rolled back from; --to takes it", async () => {
  const deploy = async (version: string) => {
    fx.file("src/lib.php", `<?php function version() { return '${version}'; }\n`);
    const r = await cutover(["--json", "deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    return json<Result>(r).release;
  };
  const good = live();
  const regretted = await deploy("regretted");
  assert.equal((await cutover(["rollback"], fx.app)).code, 0);
  assert.equal(live(), good);
  const next = await deploy("next");
  const r = await cutover(["--json", "rollback"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(live(), good, `not back to ${regretted}, which was rolled back from`);
  assertCurrentComplete(fx.deployPath, ["bootstrap/cache"]);
  const to = await cutover(["rollback", "--to", regretted], fx.app);
  assert.equal(to.code, 0, to.stderr);
  assert.equal(live(), regretted);
  assert.equal((await cutover(["rollback", "--to", next], fx.app)).code, 0);
});

test("a failing build hook: current untouched, release failed, lock released, exit 1", async () => {
  fx.writeConfig({
    hooks: {
      build: ["echo building", "echo 'composer exploded' >&2; exit 7", "touch never-ran"],
      on_failure: ['touch "$CUTOVER_DEPLOY_PATH/on-failure-ran"'],
    },
  });
  const before = live();
  const r = await cutover(["--json", "deploy"], fx.app);
  assert.equal(r.code, 1);
  // The failing command is named, not only its hook; the ones after it never ran.
  assert.match(r.stderr, /local: build hook "echo 'composer exploded' >&2; exit 7" failed \(exit 7\)/);
  assert.match(r.stderr, /composer exploded/);
  assert.equal(live(), before);
  const failed = json<Result>(r).release;
  const rows = json<Row[]>(await cutover(["--json", "releases"], fx.app));
  const row = rows.find((x) => x.id === failed)!;
  assert.equal(row.meta.state, "failed");
  assert.match(row.meta.reason ?? "", /build hook ".*exit 7" failed/);
  assert.ok(!existsSync(path.join(fx.deployPath, "releases", failed)), "failed release files are removed");
  assert.ok(!existsSync(path.join(fx.deployPath, ".cutover/lock")));
  assert.ok(existsSync(path.join(fx.deployPath, "on-failure-ran")));
  assert.deepEqual(history().at(-1)!.outcome, "failed");
  fx.writeConfig();
});

test("cleanup keeps keep_releases good releases and never the live one or the rollback target", async () => {
  fx.writeConfig({ keep_releases: 2 });
  for (let i = 0; i < 3; i++) {
    fx.file("src/lib.php", `<?php function version() { return 'v${i + 3}'; }\n`);
    const r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
  }
  const rows = json<Row[]>(await cutover(["--json", "releases"], fx.app));
  const onDisk = rows.filter((r) => Object.values(r.hosts)[0]!.onDisk);
  assert.equal(onDisk.length, 2);
  assert.equal(onDisk[0]!.meta.state, "live");
  assert.ok(!rows.some((r) => r.meta.state === "failed"), "failed releases are removed first");
  fx.writeConfig({ keep_releases: 1 });
  const c = await cutover(["cleanup"], fx.app);
  assert.equal(c.code, 0, c.stderr);
  const after = json<Row[]>(await cutover(["--json", "releases"], fx.app)).filter(
    (r) => Object.values(r.hosts)[0]!.onDisk,
  );
  assert.equal(after.length, 2, "keep 1 still keeps the rollback target");
  fx.writeConfig();
});

test("dry run prints the plan per host and changes nothing", async () => {
  await trashEmptied(fx.deployPath); // what the cleanup before pruned
  const before = snapshot(fx.deployPath);
  const r = await cutover(["--dry-run", "deploy"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /dry run: nothing was changed/);
  assert.match(r.stdout, /rsync -a --modify-window=-1 .*--link-dest=/);
  assert.match(r.stdout, /switch current/);
  const rb = await cutover(["--dry-run", "rollback"], fx.app);
  assert.equal(rb.code, 0, rb.stderr);
  assert.match(rb.stdout, /^rollback \S+ \(dry run/);
  assert.deepEqual(snapshot(fx.deployPath), before);
});

test("upload.compare checksum: a fresh checkout (every mtime new) still hard-links unchanged files", async () => {
  fx.writeConfig({ upload: { compare: "checksum" } });
  let r = await cutover(["--json", "deploy", "-q"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const before = json<Result>(r).release;
  const later = new Date(Date.now() + 60_000);
  for (const f of ["public/index.php", "src/lib.php"]) utimesSync(path.join(fx.app, f), later, later);
  r = await cutover(["--json", "deploy", "-q"], fx.app);
  assert.equal(r.code, 0, r.stderr);
  const after_ = json<Result>(r).release;
  assert.equal(json<Result>(r).filesTransferred, 0);
  const ino = (id: string) => statSync(path.join(fx.deployPath, "releases", id, "src/lib.php")).ino;
  assert.equal(ino(before), ino(after_));
  fx.writeConfig();
});

test("shared paths with mode and owner: set when cutover creates or seeds them, so the web user can write on the first deploy", async () => {
  const fresh = path.join(fx.dir, "fresh with owners");
  fx.file("data/seed.txt", "seeded\n");
  fx.writeConfig(
    {
      shared_dirs: [
        "storage/uploads",
        { path: "data", mode: "2770", owner: "www-data", group: "www-data" },
        { path: "cache/app", mode: "0750", group: "www-data" },
      ],
    },
    [{ path: fresh }],
  );
  try {
    const r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const www = Number(execFileSync("id", ["-u", "www-data"]).toString());
    const data = statSync(path.join(fresh, "shared/data"));
    assert.equal(data.uid, www);
    assert.equal(data.mode & 0o7777, 0o2770);
    assert.equal(statSync(path.join(fresh, "shared/data/seed.txt")).uid, www, "seeded content too");
    assert.equal(statSync(path.join(fresh, "shared/cache/app")).mode & 0o7777, 0o750);
    chmodSync(fx.dir, 0o755); // mkdtemp made it private; the web user must reach the deploy path
    execFileSync("runuser", [
      "-u",
      "www-data",
      "--",
      "touch",
      path.join(fresh, "current/data/written-by-www-data"),
    ]);
    // Set once: a later deploy leaves what the admin changed since.
    chmodSync(path.join(fresh, "shared/data"), 0o2775);
    assert.equal((await cutover(["deploy", "-q"], fx.app)).code, 0);
    assert.equal(statSync(path.join(fresh, "shared/data")).mode & 0o7777, 0o2775);
  } finally {
    fx.writeConfig();
    rmSync(path.join(fx.app, "data"), { recursive: true, force: true });
  }
});

test("a source directory only its owner may enter: the deploy says every release gets its mode, and how to fix it", async () => {
  chmodSync(fx.app, 0o700);
  try {
    const r = await cutover(["deploy"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^warning: .* has mode 0700, and each release directory gets it: .*; chmod 755 /m);
    assert.equal(statSync(path.join(fx.deployPath, "current/")).mode & 0o777, 0o700, "what the warning says");
  } finally {
    chmodSync(fx.app, 0o755);
  }
  const r = await cutover(["deploy"], fx.app);
  assert.doesNotMatch(r.stderr, /has mode/);
  assert.equal(statSync(path.join(fx.deployPath, "current/")).mode & 0o777, 0o755);
});
