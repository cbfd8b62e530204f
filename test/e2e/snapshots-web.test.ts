import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { Probe } from "../../src/probe/probe.js";
import { BIN, cutover, json } from "../helpers/cli.js";
import { fixture } from "../helpers/fixture.js";
import { sql } from "../helpers/sqlite.js";
import { snapshot as tree } from "../helpers/tree.js";
import { startFpm, startNginx } from "../helpers/web.js";

/**
 * Each request writes to shared/ (a file per worker, an appended log, a row in a WAL-mode SQLite
 * database) and reads a file back; any failure there is a 500. So a shared/ that is missing or half
 * restored for an instant shows as failed requests.
 */
const APP = `<?php
$dir = __DIR__ . '/../storage/uploads';
try {
  @mkdir("$dir/app");
  file_put_contents("$dir/app/worker-" . getmypid() . ".txt", microtime(true));
  file_put_contents("$dir/app/log.txt", getmypid() . "\\n", FILE_APPEND | LOCK_EX);
  $db = new PDO("sqlite:$dir/app.db", null, null, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
  $db->exec('PRAGMA busy_timeout = 10000');
  $db->exec("INSERT INTO t(kind) VALUES ('hit')");
  if (file_get_contents("$dir/static/a.txt") === false) throw new Exception('static/a.txt unreadable');
  echo "ok\\n";
} catch (Throwable $e) {
  http_response_code(500);
  echo $e->getMessage(), "\\n";
}
`;

test("restore under HTTP load on nginx + php-fpm, with the app writing files and SQLite rows to shared/: 0 failed requests", async (t) => {
  const fx = fixture("web");
  chmodSync(fx.dir, 0o755);
  chmodSync(fx.app, 0o755);
  fx.file("public/index.php", APP);
  const fpm = await startFpm(path.join(fx.dir, "fpm"), { validateTimestamps: true, children: 8 });
  fx.writeConfig({
    shared_files: [],
    writable_dirs: [],
    snapshots: { keep: 5 },
    php: { fpm: [{ socket: fpm.socket, reset: "none" }] },
  });
  const stop: (() => Promise<void>)[] = [() => fpm.stop()];
  try {
    let r = await cutover(["deploy", "-q"], fx.app);
    assert.equal(r.code, 0, r.stderr);
    const uploads = path.join(fx.deployPath, "shared/storage/uploads");
    const staticDir = path.join(uploads, "static");
    execFileSync("mkdir", ["-p", staticDir]);
    writeFileSync(path.join(staticDir, "a.txt"), "a\n");
    writeFileSync(path.join(staticDir, "b.txt"), "b\n", { mode: 0o640 });
    const db = path.join(uploads, "app.db");
    sql(
      db,
      "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, kind TEXT); INSERT INTO t(kind) VALUES ('marker');",
    );
    execFileSync("chown", ["-R", "www-data:www-data", uploads]);
    const server = await startNginx(path.join(fx.dir, "nginx"), (listen) =>
      execFileSync(
        process.execPath,
        [BIN, "server-config", "nginx", "--listen", listen, "--fpm", fpm.socket],
        {
          cwd: fx.app,
        },
      ).toString(),
    );
    stop.unshift(() => server.stop());

    const probe = new Probe({
      url: `${server.url}/`,
      concurrency: 8,
      timeoutMs: 15_000,
      maxDurationMs: 300_000,
    });
    probe.start();
    let samples: Awaited<ReturnType<Probe["stop"]>>;
    let expected: Map<string, string>;
    let snapId = "";
    try {
      await new Promise((res) => setTimeout(res, 500));
      expected = tree(staticDir);
      const snap = json<{ id: string; sqlite: string[] }[]>(
        await cutover(["--json", "snapshot", "create"], fx.app),
      )[0]!;
      assert.deepEqual(snap.sqlite, ["storage/uploads/app.db"]);
      snapId = snap.id;
      const hitsAtSnapshot = Number(
        sql(
          path.join(fx.deployPath, ".cutover/snapshots", snap.id, "shared/storage/uploads/app.db"),
          "SELECT count(*) FROM t WHERE kind = 'hit'",
        ),
      );
      assert.ok(hitsAtSnapshot > 0, "the app wrote before the snapshot");

      sql(db, "DELETE FROM t WHERE kind = 'marker'");
      writeFileSync(path.join(staticDir, "a.txt"), "changed\n");
      unlinkSync(path.join(staticDir, "b.txt"));
      await new Promise((res) => setTimeout(res, 300));
      for (let i = 0; i < 3; i++) {
        r = await cutover(["--json", "snapshot", "restore", snap.id], fx.app);
        assert.equal(r.code, 0, r.stderr);
        // The database the workers hold open is restored in place, not swapped under them.
        assert.deepEqual(json<{ sqlite: string[] }[]>(r)[0]!.sqlite, ["storage/uploads/app.db"]);
        await new Promise((res) => setTimeout(res, 200));
        assert.equal(sql(db, "PRAGMA integrity_check"), "ok", `after restore ${i + 1}`);
      }
      assert.equal(sql(db, "SELECT count(*) FROM t WHERE kind = 'marker'"), "1", "the deleted row is back");
      assert.ok(Number(sql(db, "SELECT count(*) FROM t WHERE kind = 'hit'")) >= hitsAtSnapshot);
    } finally {
      samples = await probe.stop();
    }
    const failed = samples.filter((s) => s.error !== null || s.status !== 200);
    assert.ok(samples.length > 100, `only ${samples.length} requests`);
    assert.deepEqual(
      failed.slice(0, 3).map((s) => `${s.status ?? s.error} ${s.detail ?? ""}`),
      [],
      `${failed.length} of ${samples.length} requests failed`,
    );
    assert.equal(sql(db, "PRAGMA integrity_check"), "ok", "after the load");
    assert.deepEqual(tree(staticDir), expected, "the static part of shared/ is exactly as snapshotted");
    assert.equal(
      readFileSync(path.join(fx.deployPath, "current/storage/uploads/static/a.txt"), "utf8"),
      "a\n",
    );

    // Negative control: the same restore done naively (remove shared/, copy the snapshot back) fails requests.
    const naive = new Probe({
      url: `${server.url}/`,
      concurrency: 8,
      timeoutMs: 15_000,
      maxDurationMs: 300_000,
    });
    naive.start();
    let naiveSamples: Awaited<ReturnType<Probe["stop"]>>;
    try {
      await new Promise((res) => setTimeout(res, 300));
      const source = path.join(fx.deployPath, ".cutover/snapshots", snapId, "shared");
      // (moved aside first: the app keeps writing into shared/, which can make a plain rm -rf fail)
      const script = 'mv -T -- "$1" "$1.naive$3" && cp -a -- "$2" "$1"; rm -rf -- "$1.naive$3" || true';
      // Each naive restore leaves shared/ missing for a moment: enough of them that requests meet one.
      for (let i = 0; i < 30; i++) {
        execFileSync("sh", ["-c", script, "sh", path.join(fx.deployPath, "shared"), source, String(i)]);
        await new Promise((res) => setTimeout(res, 20));
      }
    } finally {
      naiveSamples = await naive.stop();
    }
    const naiveFailed = naiveSamples.filter((s) => s.error !== null || s.status !== 200).length;
    t.diagnostic(
      `cutover restores: ${failed.length}/${samples.length} failed; naive restores: ${naiveFailed}/${naiveSamples.length} failed`,
    );
    assert.ok(naiveFailed > 0, `no failure seen in ${naiveSamples.length} requests during naive restores`);
  } finally {
    for (const s of stop) await s();
    rmSync(fx.dir, { recursive: true, force: true });
  }
});
