import assert from "node:assert/strict";
import { test } from "node:test";
import { filesToScan } from "../../src/integrations/php/current-scan.js";
import type { SourceEntry } from "../../src/plan/delta.js";
import {
  checkedListing,
  parseDeltaCheck,
  predictedListing,
  predictionExact,
} from "../../src/plan/delta-check.js";
import { manifestEntries } from "../../src/plan/diff.js";
import { type Listing, unhashed } from "../../src/plan/manifest.js";
import { mergeRelisted, splitRelisted, withParents } from "../../src/plan/relist.js";

const h = (c: string) => c.repeat(64);
const record = (type: string, mode: string, p: string, link = "") => [type, mode, "3", p, link, "1", "1"];
/** A delta check's output: these records, these hash records, nothing changed, no previous files. */
const checkOutput = (records: string[][], hashes: string[] = []) =>
  [...records.flat(), "@@hashes", ...hashes, "@@changed", "@@previous", ""].join("\0");

test("withParents: each path and every parent below the root, once", () => {
  assert.deepEqual(withParents(["a/b/c", ".env", "a/d"]), ["./a", "./a/b", "./a/b/c", "./.env", "./a/d"]);
});

test("checkedListing: linked files take the previous manifest's hash, written ones the host's, sent ones none", () => {
  const output = checkOutput(
    [
      record("d", "755", "./src"),
      record("f", "644", "./src/linked.php"),
      record("f", "644", "./src/written.php"),
      record("f", "644", "./src/sent.php"),
    ],
    [`${h("b")}  ./src/written.php`],
  );
  const previous = manifestEntries(`"src/linked.php" f 644 ${h("a")}\n"src/sent.php" f 644 ${h("c")}\n`);
  const listing = checkedListing(parseDeltaCheck(output), ["src/linked.php"], previous);
  assert.deepEqual(
    listing.entries.map((e) => e.path),
    ["./src", "./src/linked.php", "./src/written.php", "./src/sent.php"],
  );
  assert.deepEqual(
    [...listing.hashes],
    [
      ["./src/written.php", h("b")],
      ["./src/linked.php", h("a")],
    ],
  );
  assert.deepEqual([...listing.reused], [["./src/linked.php", "./src/linked.php"]]);
});

test("mergeRelisted: relisted paths replaced, anything below a linked path gone, new hashes added", () => {
  const entry = (type: string, p: string) => ({
    type,
    mode: "755",
    size: 3,
    path: p,
    link: "",
    inode: "1",
    links: 1,
  });
  const listing: Listing = {
    entries: [
      entry("d", "./storage"),
      entry("f", "./storage/uploads/old.txt"),
      entry("d", "./w"),
      entry("f", "./w/kept.php"),
      entry("f", "./a.php"),
    ],
    hashes: new Map([
      ["./a.php", h("a")],
      ["./storage/uploads/old.txt", h("b")],
    ]),
    reused: new Map([
      ["./storage/uploads/old.txt", "./storage/uploads/old.txt"],
      ["./w/kept.php", "./w/kept.php"],
    ]),
  };
  const output = [
    "@@entries",
    ...record("d", "2775", "./storage"),
    ...record("l", "777", "./storage/uploads", "../../shared/storage/uploads"),
    ...record("d", "700", "./w"),
    "@@hashes",
    `${h("c")}  ./sent.php`,
    "",
  ].join("\0");
  const { listing: merged, edited } = mergeRelisted(listing, ["storage/uploads"], output);
  assert.deepEqual(edited, []);
  assert.deepEqual(
    merged.entries.map((e) => [e.path, e.type, e.mode]),
    [
      ["./w/kept.php", "f", "755"],
      ["./a.php", "f", "755"],
      ["./storage", "d", "2775"],
      ["./storage/uploads", "l", "777"],
      ["./w", "d", "700"],
    ],
  );
  assert.equal(merged.hashes.get("./sent.php"), h("c"));
  assert.deepEqual([...merged.reused.keys()], ["./w/kept.php"]);
});

test("mergeRelisted: a linked file hashed again is edited only when its content changed", () => {
  const entry = { type: "f", mode: "644", size: 3, path: "./a.php", link: "", inode: "1", links: 2 };
  const listing: Listing = {
    entries: [entry],
    hashes: new Map([["./a.php", h("a")]]),
    reused: new Map([["./a.php", "./a.php"]]),
  };
  const relisted = (hash: string) => ["@@entries", "@@hashes", `${hash}  ./a.php`, ""].join("\0");
  assert.deepEqual(mergeRelisted(listing, [], relisted(h("a"))).edited, []);
  const changed = mergeRelisted(listing, [], relisted(h("e")));
  assert.deepEqual(changed.edited, ["./a.php"]);
  assert.equal(changed.listing.hashes.get("./a.php"), h("e"));
});

test("splitRelisted: the listing ends at its own marker, not at a name or link target that reads like it", () => {
  const listed = [
    "@@entries",
    ...record("l", "777", "./odd", "@@listed"),
    "@@hashes",
    `${h("a")}  ./@@listed`,
  ].join("\0");
  const rest = ["./src/a.php", "@@status", "0", "", "@@end", ""].join("\0");
  assert.deepEqual(splitRelisted(`${listed}\0@@listed\0${rest}`), { listed, rest });
  assert.throws(() => splitRelisted(`${listed}\0`), /cut short/);
});

/** The source's root and src/, and a 3-byte file of it whose sha256 is `c` repeated. */
const sourceDirs: SourceEntry[] = [
  { path: ".", type: "d", mode: "755", size: 0, own: true },
  { path: "src", type: "d", mode: "755", size: 4096, own: true },
];
const sourceFile = (p: string, c: string): SourceEntry => ({
  path: p,
  type: "f",
  mode: "644",
  size: 3,
  hash: h(c),
  own: true,
});

test("predictedListing: what checkedListing gives when the check finds exactly the source", () => {
  const source: SourceEntry[] = [
    ...sourceDirs,
    sourceFile("src/linked.php", "a"),
    sourceFile("src/written.php", "b"),
    sourceFile("src/sent.php", "d"),
    { path: "link", type: "l", mode: "777", size: 3, link: "src", own: true },
  ];
  const output = checkOutput(
    [
      record("d", "755", "./src"),
      record("f", "644", "./src/linked.php"),
      record("f", "644", "./src/written.php"),
      record("f", "644", "./src/sent.php"),
      record("l", "777", "./link", "src"),
    ],
    [`${h("b")}  ./src/written.php`],
  );
  const previous = manifestEntries(`"src/linked.php" f 644 ${h("a")}\n"src/sent.php" f 644 ${h("c")}\n`);
  const linked = ["src/linked.php"];
  const predicted = predictedListing(source, linked, ["src/written.php"], previous);
  const checked = checkedListing(parseDeltaCheck(output), linked, previous);
  // What a manifest is made of (a directory's size is not), in any order.
  const shape = (l: Listing) => ({
    entries: l.entries
      .map((e) => `${e.type} ${e.mode} ${e.type === "f" ? e.size : ""} ${e.path} ${e.link}`)
      .sort(),
    hashes: [...l.hashes].sort(),
    reused: [...l.reused],
    unhashed: unhashed(l),
  });
  assert.ok(predictionExact(source));
  assert.deepEqual(shape(predicted), shape(checked));
  assert.deepEqual(unhashed(predicted), ["./src/sent.php"]);
});

test("parseDeltaCheck: what follows the ahead marker, which counts only where a record starts", () => {
  const check = (previous: string[], after: string[]) =>
    parseDeltaCheck(
      [...record("f", "644", "./@@ahead"), "@@hashes", "@@changed", ...previous, "@@previous", ...after].join(
        "\0",
      ),
    );
  // A file named @@ahead, in the new release and in the previous one: no marker.
  assert.equal(check(["i", "7", "./@@ahead"], [""]).ahead, undefined);
  const after = check(["i", "7", "./@@ahead"], ["@@ahead", "@@entries", "x", ""]);
  assert.equal(after.ahead, "@@entries\0x\0");
  assert.deepEqual([...(after.previousInode ?? [])], [["@@ahead", "7"]]);
  assert.equal(check([], ["@@ahead", ""]).ahead, "");
});

test("predictedListing after rsync (nothing written inline), with a fifo: the same files hashed and scanned as checkedListing's", () => {
  const source: SourceEntry[] = [
    ...sourceDirs,
    sourceFile("src/linked.php", "a"),
    sourceFile("src/sent.php", "d"),
    sourceFile("src/new.php", "e"),
    { path: "pipe", type: "o", mode: "644", size: 0, own: true },
  ];
  const output = checkOutput(
    [
      record("d", "755", "./src"),
      record("f", "644", "./src/linked.php"),
      record("f", "644", "./src/sent.php"),
      record("f", "644", "./src/new.php"),
      record("p", "644", "./pipe"),
    ],
    [],
  );
  const previous = manifestEntries(`"src/linked.php" f 644 ${h("a")}\n"src/sent.php" f 644 ${h("c")}\n`);
  const linked = ["src/linked.php"];
  const predicted = predictedListing(source, linked, [], previous);
  const checked = checkedListing(parseDeltaCheck(output), linked, previous);
  const needle = "/srv/app/current/";
  for (const scan of [{ needle, files: [] }, { needle, files: ["src/linked.php"] }, undefined]) {
    const files = (l: Listing) => filesToScan(l, scan, needle)?.sort();
    assert.deepEqual(files(predicted), files(checked));
  }
  assert.deepEqual(filesToScan(predicted, { needle, files: [] }, needle)?.sort(), [
    "./src/new.php",
    "./src/sent.php",
  ]);
  assert.deepEqual(unhashed(predicted).sort(), unhashed(checked).sort());
  assert.deepEqual(unhashed(predicted).sort(), ["./src/new.php", "./src/sent.php"]);
  // Only the host's listing tells a fifo: no manifest is made from this prediction.
  assert.equal(predictionExact(source), false);
  assert.deepEqual(
    [predicted, checked].map((l) => l.entries.find((e) => e.path === "./pipe")?.type),
    ["o", "p"],
  );
  assert.deepEqual([...predicted.hashes].sort(), [...checked.hashes].sort());
  assert.deepEqual([...predicted.reused], [...checked.reused]);
});
