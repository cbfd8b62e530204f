import assert from "node:assert/strict";
import { test } from "node:test";
import { parseWindow } from "../../src/plan/in-place-window.js";

const rec = (...lines: string[]) => `${lines.join("\0")}\0`;

test("the window runs from the first file renamed in to the last change of any entry", () => {
  const w = parseWindow(
    rec(
      "1000.000100000 d ",
      "1000.002000000 f lib/a.php",
      "1000.005500000 f lib/b.php",
      "1000.006000000 d lib",
    ),
    [],
  );
  assert.deepEqual(w, { startMs: 1000002, endMs: 1000006, ms: 4, files: 2 });
});

test("shared and writable paths (written by the app at any time) do not count", () => {
  const w = parseWindow(
    rec(
      "5.000 f storage/uploads/x",
      "6.000 f a.php",
      "9.000 f bootstrap/cache/c.php",
      "9.500 d bootstrap/cache",
    ),
    ["storage/uploads", "bootstrap/cache"],
  );
  assert.deepEqual(w, { startMs: 6000, endMs: 6000, ms: 0, files: 1 });
});

test("nothing changed: no window; malformed records from the host are skipped", () => {
  assert.equal(parseWindow("", []), undefined);
  assert.equal(parseWindow(rec("garbage", "1e9 f x", "12.5 ff y", "-1 f z"), []), undefined);
  assert.deepEqual(parseWindow(rec("2.000 d ", "x"), []), { startMs: 2000, endMs: 2000, ms: 0, files: 0 });
});

test("a file name with spaces or a newline is one record", () => {
  const w = parseWindow(rec("3.000 f odd\nname", "4.000 l a b"), ["odd\nname"]);
  assert.deepEqual(w, { startMs: 4000, endMs: 4000, ms: 0, files: 1 });
});
