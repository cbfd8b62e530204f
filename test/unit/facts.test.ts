import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { parseFacts } from "../../src/plan/facts.js";
import { releaseOfLink, sharedLinkTarget } from "../../src/plan/layout.js";
import { describeOwner, isStale, parseLockOwner } from "../../src/plan/lock.js";
import { buildManifest, parseListing, unhashed } from "../../src/plan/manifest.js";
import { afterCleanup, findLeftovers } from "../../src/plan/reconcile.js";
import { hostFacts, probeOutput } from "../helpers/facts.js";

const meta = (id: string, state: string) =>
  `meta ${JSON.stringify({ id, state, stage: "s", who: "w", revision: null, started_at: "t" })}`;

test("facts parser reads links, releases, metadata, lock holder and shared paths", () => {
  const owner = { token: "t", who: "a@b", machine: "m", pid: 42, since: "s", command: "c" };
  const f = hostFacts(
    "/srv/a b",
    [
      `lock held ${JSON.stringify(owner)}`,
      "lock-sum 1234567 77",
      "root ok",
      "writable yes",
      "current link releases/20261127T100000Z",
      "release 20261127T100000Z",
      "release 20261127T110000Z",
      meta("20261127T100000Z", "live"),
      "meta {broken",
      "tmp current",
      "shared dir storage/my uploads",
      "shared missing .env",
      "avail 1234",
    ],
    true,
  );
  assert.equal(f.current.kind === "link" && f.current.release, "20261127T100000Z");
  assert.deepEqual(f.releaseDirs, ["20261127T100000Z", "20261127T110000Z"]);
  assert.equal(f.metas.size, 1);
  assert.deepEqual(f.lock, { kind: "held", owner, sum: "1234567 77" });
  assert.equal(f.shared.get("storage/my uploads"), "dir");
  assert.equal(f.shared.get(".env"), "missing");
  assert.equal(f.availKb, 1234);
});

test("leftovers: incomplete releases go, a ready-but-never-live release is marked failed, states follow current", () => {
  const f = hostFacts(
    "/d",
    [
      "root ok",
      "current link releases/20261127T100000Z",
      "release 20261127T090000Z",
      "release 20261127T100000Z",
      "release 20261127T110000Z",
      "release 20261127T120000Z",
      "release junk",
      meta("20261127T090000Z", "live"),
      meta("20261127T100000Z", "ready"),
      meta("20261127T110000Z", "preparing"),
      meta("20261127T120000Z", "ready"),
      meta("20261127T080000Z", "superseded"),
      meta("20261127T070000Z", "failed"),
    ],
    false,
  );
  const l = findLeftovers(f, "now");
  assert.deepEqual(l.incomplete, ["20261127T110000Z"], "junk is not ours: never removed");
  assert.deepEqual(l.orphanMetas, ["20261127T080000Z"]);
  assert.deepEqual(l.fixes.map((m) => `${m.id}:${m.state}`).sort(), [
    "20261127T090000Z:superseded",
    "20261127T100000Z:live",
    "20261127T120000Z:failed",
  ]);
  const after = afterCleanup(f, l);
  assert.deepEqual(after.dirs, ["20261127T090000Z", "20261127T100000Z", "20261127T120000Z"]);
  assert.equal(after.metas.get("20261127T070000Z")?.state, "failed");
});

test("a lock is stale only where its pid means the same process, and that process is gone, a zombie or replaced", () => {
  const owner = {
    token: "t",
    who: "w",
    machine: "h",
    machine_id: "m1",
    pid: 7,
    pid_start: "100",
    since: "s",
    command: "c",
  };
  const running = (start: string) => () => ({ kind: "running" as const, start });
  assert.equal(
    isStale(owner, "m1", () => ({ kind: "gone" })),
    true,
  );
  assert.equal(
    isStale(owner, "m1", () => ({ kind: "zombie" })),
    true,
    "a zombie is dead",
  );
  assert.equal(isStale(owner, "m1", running("100")), false);
  assert.equal(isStale(owner, "m1", running("999")), true, "a reused pid is another process");
  assert.equal(
    isStale(owner, "m2", () => ({ kind: "gone" })),
    false,
    "a clone with the same host name proves nothing",
  );
  const { machine_id: _m, ...legacy } = owner;
  assert.equal(
    isStale(legacy, "m1", () => ({ kind: "gone" })),
    false,
    "no machine id: never provably stale",
  );
  assert.equal(
    isStale(undefined, "m1", () => ({ kind: "gone" })),
    false,
  );
});

test("names from the host are data: newlines, '..' and forged records cannot make a release", () => {
  const f = hostFacts("/d", [
    "root ok",
    "current link releases/20261127T100000Z",
    "release 20261127T100000Z",
    "release x\nrelease ..",
    "release ..",
    "release -rf",
    "release link 20261127T090000Z",
    "release file 20261127T080000Z",
    `meta ${JSON.stringify({ id: "20261127T100000Z", state: "live", stage: "s", who: "w", revision: null, started_at: "t" })}`,
    `meta ${JSON.stringify({ id: "", state: "bad" })}`,
    `meta 20261127T110000Z.json ${JSON.stringify({ id: "../shared", state: "failed" })}`,
    `meta 20261127T120000Z.json ${JSON.stringify({ id: "20261127T120000Z", state: "live", who: 5, revision: {} })}`,
    "tmp x\ntmp ..",
    "tmp current",
    "tmp php-20261127T100000Z",
  ]);
  assert.deepEqual(f.releaseDirs, ["20261127T100000Z"]);
  assert.equal(f.foreign.length, 5);
  assert.deepEqual([...f.metas.keys()].sort(), ["20261127T100000Z", "20261127T120000Z"]);
  const tolerant = f.metas.get("20261127T120000Z")!;
  assert.equal(tolerant.who, "unknown");
  assert.equal(tolerant.revision, null);
  assert.ok(f.problems.some((p) => p.includes("not valid release metadata")));
  const l = findLeftovers(f, "now");
  assert.deepEqual(l.incomplete, []);
  assert.deepEqual(l.tmp, ["current", "php-20261127T100000Z"]);
});

test("current is resolved on the host: an absolute link through a symlinked deploy path still names the live release", () => {
  const out = [
    "cutover-facts",
    "2",
    "root",
    "ok",
    "current",
    "link",
    "/real/app/releases/20261127T100000Z",
    "/real/app/releases/20261127T100000Z",
    "releases-real",
    "/real/app/releases",
    "release",
    "dir",
    "20261127T100000Z",
    "meta",
    "20261127T100000Z.json",
    JSON.stringify({
      id: "20261127T100000Z",
      state: "live",
      stage: "s",
      who: "w",
      revision: null,
      started_at: "t",
    }),
    "",
  ].join("\0");
  const f = parseFacts("/link/app", out, false);
  assert.equal(f.current.kind === "link" && f.current.release, "20261127T100000Z");
  assert.deepEqual(findLeftovers(f, "now").incomplete, []);
});

test("a release directory without metadata is not cutover's: never a leftover", () => {
  const f = hostFacts("/d", [
    "root ok",
    "current link releases/00000000T000000Z",
    "release 00000000T000000Z",
    "release 20261127T100000Z",
  ]);
  const l = findLeftovers(f, "now");
  assert.deepEqual(l.incomplete, []);
});

test("layout links are relative and only our releases are recognised", () => {
  assert.equal(sharedLinkTarget(".env"), "../../shared/.env");
  assert.equal(sharedLinkTarget("storage/app/public"), "../../../../shared/storage/app/public");
  assert.equal(releaseOfLink("/srv/a", "releases/20261127T100000Z"), "20261127T100000Z");
  assert.equal(releaseOfLink("/srv/a", "/srv/a/releases/20261127T100000Z"), "20261127T100000Z");
  assert.equal(releaseOfLink("/srv/a", "/elsewhere/x"), undefined);
});

test("manifest: canonical, order-independent, excludes writable contents, counts files", () => {
  const h = (c: string) => c.repeat(64);
  const listing = (order: string[][]) =>
    ["@@entries", ...order.flat(), "@@hashes", `${h("a")}  ./x.php`, `${h("b")}  ./cache/tmp`, ""].join("\0");
  const entries = [
    ["f", "644", "10", "./x.php", "", "11", "1"],
    ["d", "755", "0", "./cache", "", "12", "2"],
    ["f", "644", "5", "./cache/tmp", "", "13", "1"],
    ["l", "777", "9", "./.env", "../../shared/.env", "14", "1"],
  ];
  const one = buildManifest(parseListing(listing(entries)), ["cache"]);
  const two = buildManifest(parseListing(listing([...entries].reverse())), ["cache"]);
  assert.equal(one.checksum, two.checksum);
  assert.equal(one.files, 1);
  assert.equal(one.bytes, 10);
  assert.ok(!one.text.includes("cache/tmp"));
  assert.match(one.text, /"\.env" l "\.\.\/\.\.\/shared\/\.env"/);
});

test("manifest: hard-linked files reuse the hash of the previous release's file at their path (same inode); others are reported unhashed", () => {
  const h = (c: string) => c.repeat(64);
  const manifest = `"same.php" f 644 ${h("a")}\n"old-name.php" f 644 ${h("b")}\n`;
  const checksum = `sha256:${createHash("sha256").update(manifest).digest("hex")}`;
  const output = [
    "@@entries",
    ...["f", "644", "3", "./same.php", "", "100", "2"],
    ...["f", "644", "3", "./moved.php", "", "101", "2"],
    ...["f", "644", "3", "./elsewhere.php", "", "102", "3"],
    ...["f", "644", "3", "./new.php", "", "103", "1"],
    "@@hashes",
    `${h("c")}  ./new.php`,
    "@@previous",
    ...["100", "./same.php", "101", "./old-name.php"],
    "@@manifest",
    manifest,
  ].join("\0");
  const listing = parseListing(output, undefined, checksum);
  assert.equal(listing.hashes.get("./same.php"), h("a"));
  assert.equal(listing.hashes.get("./new.php"), h("c"));
  // moved.php's inode is the previous release's old-name.php: renamed there (a swap), so the hash
  // recorded for old-name.php need not be this file's.
  assert.deepEqual(unhashed(listing), ["./moved.php", "./elsewhere.php"]);
  // The host's manifest is not the one the metadata records (or none is recorded): nothing reused.
  for (const other of [`sha256:${"0".repeat(64)}`, undefined]) {
    const none = parseListing(output, undefined, other);
    assert.deepEqual(unhashed(none), ["./same.php", "./moved.php", "./elsewhere.php"]);
  }
  // This machine's copy needs no check.
  assert.equal(parseListing(output, manifest).hashes.get("./same.php"), h("a"));
});

test("a banner printed by the login's rc files before the probe's output is skipped", () => {
  const f = parseFacts(
    "/d",
    `Welcome to web1\n${probeOutput("/d", ["root ok", "release 20261127T100000Z"])}`,
    false,
  );
  assert.deepEqual(f.releaseDirs, ["20261127T100000Z"]);
});

test("a regular file named as the listing's clock probe is a leftover to remove; any other entry so named is foreign", () => {
  const f = hostFacts("/d", [
    "root ok",
    "release file .cutover-clock-probe.AbCd1234",
    "release link .cutover-clock-probe.Link1234",
    "release dir .cutover-clock-probe.Dir01234",
    "release other .cutover-clock-probe.Fifo1234",
    "release file .cutover-clock-probe.Short12",
    "release file .cutover-clock-probe.Ab-d1234",
    "release file x.cutover-clock-probe.AbCd1234",
  ]);
  assert.deepEqual(f.clockProbes, [".cutover-clock-probe.AbCd1234"]);
  assert.equal(f.foreign.length, 6);
  assert.deepEqual(findLeftovers(f, "now").clockProbes, [".cutover-clock-probe.AbCd1234"]);
  assert.ok(!f.problems.some((p) => p.includes('".cutover-clock-probe.AbCd1234"')));
});

test("a lock holder's text from the host is one line: the error naming it cannot print lines of the host's choosing", () => {
  const owner = parseLockOwner(
    JSON.stringify({
      token: "t",
      who: "eve\n  state: nothing was changed",
      machine: "m\r",
      pid: 1,
      since: "2026-12-02T13:00:00Z",
      command: "cutover\u001b[8m deploy",
    }),
  );
  const said = describeOwner(owner);
  assert.ok(![..."\n\r\u001b"].some((c) => said.includes(c)), said);
  assert.match(said, /^eve\? {2}state: nothing was changed \(pid 1 on m\?, running "cutover\?\[8m deploy"\)/);
});
