import assert from "node:assert/strict";
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import {
  drainMarkPath,
  parseDrainMark,
  readDrainMark,
  removeDrainMark,
  writeDrainMark,
} from "../../src/plan/drain-mark.js";
import { layout } from "../../src/plan/layout.js";
import { LocalExecutor } from "../../src/transport/local.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "drain mark ü "));
const executor = new LocalExecutor("local", 30);
after(async () => {
  await executor.close();
  rmSync(dir, { recursive: true, force: true });
});
const l = layout(dir);
const mark = {
  balancer: "HAProxy backend app (socket /s)",
  server: "web1",
  at: "2026-12-02T10:00:00Z",
  who: "me",
};

test("drain mark: written, read back for its balancer and server only, removed", async () => {
  mkdirSync(l.meta, { recursive: true });
  assert.equal((await executor.run(writeDrainMark(l, mark))).code, 0);
  const read = (await executor.run([readDrainMark(l)])).stdout.toString();
  assert.deepEqual(parseDrainMark(read, mark.balancer, "web1"), mark);
  assert.equal(parseDrainMark(read, mark.balancer, "web2"), undefined, "another server");
  assert.equal(parseDrainMark(read, "nginx upstream file /x", "web1"), undefined, "another balancer");
  assert.equal(parseDrainMark("not json", mark.balancer, "web1"), undefined);
  assert.equal((await executor.run([removeDrainMark(l)])).code, 0);
  assert.throws(() => lstatSync(drainMarkPath(l)));
});

test("drain mark, hostile state: a link at its name is neither read through nor removed, nor its target; a directory stays", async () => {
  const elsewhere = path.join(dir, "elsewhere.json");
  writeFileSync(elsewhere, `${JSON.stringify(mark)}\n`);
  symlinkSync(elsewhere, drainMarkPath(l));
  assert.equal((await executor.run([readDrainMark(l)])).stdout.toString(), "", "a link is no mark");
  assert.equal((await executor.run([removeDrainMark(l)])).code, 0);
  assert.ok(lstatSync(drainMarkPath(l)).isSymbolicLink(), "the link stays");
  assert.equal(readFileSync(elsewhere, "utf8"), `${JSON.stringify(mark)}\n`, "its target untouched");
  rmSync(drainMarkPath(l));
  mkdirSync(drainMarkPath(l));
  writeFileSync(path.join(drainMarkPath(l), "data"), "keep");
  assert.equal((await executor.run([readDrainMark(l)])).stdout.toString(), "");
  assert.equal((await executor.run([removeDrainMark(l)])).code, 0);
  assert.equal(
    readFileSync(path.join(drainMarkPath(l), "data"), "utf8"),
    "keep",
    "a directory is left whole",
  );
});

test("drain mark, hostile state: something else at its name fails the write and is left as it is (nothing moved into a directory, nothing written through a link)", async () => {
  rmSync(drainMarkPath(l), { recursive: true, force: true });
  mkdirSync(drainMarkPath(l));
  const r = await executor.run(writeDrainMark(l, mark));
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /is not a regular file: cutover cannot record its drain there/);
  assert.deepEqual(readdirSync(drainMarkPath(l)), [], "nothing moved into the directory");
  rmSync(drainMarkPath(l), { recursive: true });
  const victim = path.join(dir, "victim.json");
  writeFileSync(victim, "precious\n");
  symlinkSync(victim, `${drainMarkPath(l)}.tmp`);
  assert.equal((await executor.run(writeDrainMark(l, mark))).code, 0);
  assert.equal(readFileSync(victim, "utf8"), "precious\n", "a link at the temp name is not written through");
  assert.deepEqual(JSON.parse(readFileSync(drainMarkPath(l), "utf8")), mark);
});

test("drain mark, hostile state: a huge file at its name is not read whole (only its head, and it is no mark)", async () => {
  rmSync(drainMarkPath(l), { recursive: true, force: true });
  writeFileSync(drainMarkPath(l), JSON.stringify(mark));
  truncateSync(drainMarkPath(l), 64 * 1024 * 1024); // sparse: NULs after the JSON
  const read = (await executor.run([readDrainMark(l)])).stdout;
  assert.ok(read.length <= 65536, `${read.length} bytes read`);
  assert.equal(parseDrainMark(read.toString(), mark.balancer, "web1"), undefined);
  rmSync(drainMarkPath(l));
});
