import assert from "node:assert/strict";
import { test } from "node:test";
import { filesToScan, parseScan } from "../../src/integrations/php/current-scan.js";
import type { Listing } from "../../src/plan/manifest.js";

const entry = (path: string, type = "f") => ({
  type,
  mode: "644",
  size: 1,
  path,
  link: "",
  inode: "1",
  links: 1,
});
const listing: Listing = {
  entries: [
    entry("./a.php"),
    entry("./b.php"),
    entry("./new.php"),
    entry("./odd:12:name.php"),
    entry("./dir", "d"),
  ],
  hashes: new Map(),
  reused: new Map([
    ["./a.php", "./a.php"],
    ["./b.php", "./old-b.php"],
  ]),
};
const needle = "/srv/app/current/";

test("only new files and those the previous scan found for the same literal are read; else all", () => {
  assert.deepEqual(filesToScan(listing, { needle, files: ["old-b.php"] }, needle), [
    "./b.php",
    "./new.php",
    "./odd:12:name.php",
  ]);
  assert.deepEqual(filesToScan(listing, { needle, files: [] }, needle), ["./new.php", "./odd:12:name.php"]);
  assert.equal(filesToScan(listing, undefined, needle), undefined);
  assert.equal(filesToScan(listing, { needle: "/old/path/current/", files: [] }, needle), undefined);
});

const section = (names: string[], status: string, lines: string[]) =>
  `${names.map((n) => `${n}\0`).join("")}@@status\0${status}\0${lines.map((l) => `${l}\n`).join("")}@@end\0`;

test("findings name their files exactly (also one with :12: in its name), across commands", () => {
  const out =
    section(["./b.php"], "0", ["./b.php:3:require '/srv/app/current/x';"]) +
    section(["./odd:12:name.php"], "0", ["./odd:12:name.php:7:'/srv/app/current/'"]) +
    section([], "1", []);
  const r = parseScan(out);
  assert.deepEqual(r.hits, [
    "b.php:3:require '/srv/app/current/x';",
    "odd:12:name.php:7:'/srv/app/current/'",
  ]);
  assert.deepEqual(r.files, ["b.php", "odd:12:name.php"]);
  assert.deepEqual(parseScan(""), { hits: [], files: [] });
});

test("an unreadable file, a cut-short output or too many lines: the findings are not recorded", () => {
  assert.equal(parseScan(section(["./b.php"], "2", ["./b.php:1:x"])).files, undefined);
  assert.equal(parseScan("./b.php\0@@status\0").files, undefined);
  const many = Array.from({ length: 50 }, (_, i) => `./b.php:${i}:x`);
  const r = parseScan(section(["./b.php"], "0", many));
  assert.equal(r.files, undefined);
  assert.equal(r.hits.length, 50);
});
