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

test("only new files and files the previous release's scan found are read; unknown findings read all", () => {
  assert.deepEqual(filesToScan(listing, ["old-b.php"]), ["./b.php", "./new.php", "./odd:12:name.php"]);
  assert.deepEqual(filesToScan(listing, []), ["./new.php", "./odd:12:name.php"]);
  assert.equal(filesToScan(listing, undefined), undefined);
});

test("findings name their files, also a file whose name has :12: in it; too many are not recorded", () => {
  const r = parseScan("./b.php:3:require '/p/current/x';\n./odd:12:name.php:7:'/p/current/'\n", listing);
  assert.deepEqual(r.hits, ["b.php:3:require '/p/current/x';", "odd:12:name.php:7:'/p/current/'"]);
  assert.deepEqual(r.files, ["b.php", "odd:12:name.php"]);
  const many = Array.from({ length: 50 }, (_, i) => `./b.php:${i}:x`).join("\n");
  assert.equal(parseScan(many, listing).files, undefined);
  assert.equal(parseScan(many, listing).hits.length, 50);
  assert.deepEqual(parseScan("", listing), { hits: [], files: [] });
});
