import assert from "node:assert/strict";
import { test } from "node:test";
import { manifestEntries } from "../../src/plan/diff.js";
import { jsonString } from "../../src/plan/manifest.js";

const h = "a".repeat(64);

test("a manifest's names read back as written, whether JSON escaped them or not", () => {
  const names = [
    "plain.php",
    "späce ünïcode.php",
    'quote".php',
    "back\\slash",
    "new\nline",
    "tab\tcontrol\u0001",
  ];
  const text = names.map((n) => `${JSON.stringify(n)} f 644 ${h}`).join("\n");
  const read = manifestEntries(`${text}\n${JSON.stringify("dir")} d 2755\n"ln" l ${JSON.stringify("a b")}\n`);
  assert.deepEqual([...read.keys()], [...names, "dir", "ln"]);
  for (const n of names) assert.deepEqual(read.get(n), { type: "f", mode: "644", hash: h });
  assert.deepEqual(read.get("dir"), { type: "d", mode: "2755" });
  assert.deepEqual(read.get("ln"), { type: "l", target: "a b" });
});

test("a line JSON would not read, or not in the manifest's shape, is no entry", () => {
  const read = manifestEntries(
    [
      `"raw\u0001control" f 644 ${h}`, // JSON refuses a raw control character in a string
      `"bad\\escape" f 644 ${h}`,
      `"unclosed f 644 ${h}`,
      `"tab"\tf 644 ${h}`,
      `"type-tab" f\t644`,
      `"" f 644 ${h}`,
      `"ok" f 644 ${h}`,
    ].join("\n"),
  );
  assert.deepEqual([...read.keys()], ["", "ok"]);
});

test("every UTF-16 code unit in a name: an entry exactly when JSON reads the name, and as JSON reads it", () => {
  const lines: string[] = [];
  const want = new Set<string>();
  for (let c = 0; c <= 0xffff; c++) {
    const literal = `"a${String.fromCharCode(c)}b"`;
    lines.push(`${literal} f 644 ${h}`);
    const name = jsonString(literal);
    if (name !== undefined) want.add(name);
  }
  const read = manifestEntries(lines.join("\n"));
  assert.deepEqual(new Set(read.keys()), want);
});

test("a name's quote escaped, a line end or a wide space after the name: read as JSON and the line's shape say", () => {
  const read = manifestEntries(
    [
      `"esc\\" f 644 x" f 644 ${h}`, // the first quote after the name's start is escaped
      `"cr" f 644 ${h}\r`,
      `"nbsp" f\u00a0644 ${h}`,
      `"sep" f\u2028644 ${h}`,
      `"trailing" d 755 `,
      `"ln" l "a\\"b"`,
    ].join("\n"),
  );
  assert.deepEqual([...read.keys()], ['esc" f 644 x', "trailing", "ln"]);
  assert.deepEqual(read.get('esc" f 644 x'), { type: "f", mode: "644", hash: h });
  assert.deepEqual(read.get("trailing"), { type: "d", mode: "755 " });
  assert.deepEqual(read.get("ln"), { type: "l", target: 'a"b' });
});
