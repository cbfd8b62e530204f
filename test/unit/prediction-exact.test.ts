import assert from "node:assert/strict";
import { test } from "node:test";
import type { SourceEntry } from "../../src/plan/delta.js";
import {
  checkDelta,
  checkedListing,
  parseDeltaCheck,
  predictedListing,
  predictionExact,
} from "../../src/plan/delta-check.js";
import { manifestEntries } from "../../src/plan/diff.js";
import { buildManifest, type Listing, unhashed } from "../../src/plan/manifest.js";

/**
 * After a checked delta the predicted listing stands in for the host's (engine/delta-upload.ts):
 * whatever the host's listing holds, if checkDelta lets it pass, the manifest made from the
 * prediction must be the one made from the host's listing. Every field of every record of the
 * host's listing is changed in turn (and records dropped or added): a field the manifest records
 * but the check does not compare would show here as a passing check with another manifest.
 */
const h = (c: string) => c.repeat(64);
const file = (p: string, c: string, mode = "644"): SourceEntry => ({
  path: p,
  type: "f",
  mode,
  size: 3,
  hash: h(c),
  mtime: "1.000000000",
  own: true,
});
const source: SourceEntry[] = [
  { path: ".", type: "d", mode: "755", size: 4096, own: true },
  { path: "src", type: "d", mode: "2755", size: 4096, own: true },
  file("src/linked.php", "a"),
  file("src/written.php", "b", "755"),
  file("src/sent.php", "d"),
  { path: "src/link", type: "l", mode: "777", size: 8, link: "sent.php", own: true },
];
const previous = manifestEntries(`"src/linked.php" f 644 ${h("a")}\n"src/sent.php" f 644 ${h("c")}\n`);
const linked = ["src/linked.php"];
const written = ["src/written.php"];

/** The host's listing as the build makes it: [type, mode, size, path, link, inode, links]. */
const hostRecords = (): string[][] => [
  ["d", "2755", "4096", "./src", "", "10", "2"],
  ["f", "644", "3", "./src/linked.php", "", "11", "2"],
  ["f", "755", "3", "./src/written.php", "", "12", "1"],
  ["f", "644", "3", "./src/sent.php", "", "13", "1"],
  ["l", "777", "8", "./src/link", "sent.php", "14", "1"],
];
const others: readonly (readonly string[])[] = [
  ["f", "d", "l", "p", "s", "c"],
  ["644", "0644", "755", "777", "2755", "600", ""],
  ["0", "3", "4", "8", "60", "4096", ""],
  [],
  ["", "sent.php", "other", "./sent.php"],
  ["11", "12", "99", ""],
  ["1", "2", "3"],
];

function output(records: string[][], hashes: string[]): string {
  // The previous release's linked file is inode 11; its manifest is older than every file.
  return [
    ...records.flat(),
    "@@hashes",
    ...hashes,
    "@@changed",
    "i",
    "11",
    "./src/linked.php",
    "@@previous",
    "",
  ].join("\0");
}

/** The manifest and its figures; the files rsync sent are hashed on the host, the same for either listing. */
function manifestOf(listing: Listing): string {
  const hashes = new Map(listing.hashes);
  for (const p of unhashed(listing)) hashes.set(p, h("e"));
  const { text, files, bytes } = buildManifest({ ...listing, hashes }, []);
  return `${files} files, ${bytes} bytes\n${text}`;
}

test("a host listing that passes the check gives the manifest the prediction gives, whatever else it holds", () => {
  assert.ok(predictionExact(source));
  const predicted = manifestOf(predictedListing(source, linked, written, previous));
  const writtenHash = `${h("b")}  ./src/written.php`;
  const variants: { what: string; records: string[][]; hashes: string[] }[] = [
    { what: "as built", records: hostRecords(), hashes: [writtenHash] },
    { what: "written file's hash", records: hostRecords(), hashes: [`${h("f")}  ./src/written.php`] },
    { what: "no hash", records: hostRecords(), hashes: [] },
    {
      what: "an extra entry",
      records: [...hostRecords(), ["f", "644", "3", "./src/x", "", "15", "1"]],
      hashes: [writtenHash],
    },
  ];
  hostRecords().forEach((_, r) => {
    variants.push({
      what: `record ${r} dropped`,
      records: hostRecords().filter((_, i) => i !== r),
      hashes: [writtenHash],
    });
    others.forEach((values, f) => {
      for (const value of values) {
        const records = hostRecords();
        records[r]![f] = value;
        variants.push({
          what: `record ${r} field ${f} = ${JSON.stringify(value)}`,
          records,
          hashes: [writtenHash],
        });
      }
    });
  });
  let passed = 0;
  for (const v of variants) {
    const check = parseDeltaCheck(output(v.records, v.hashes));
    if (checkDelta(check, source, linked, written).length > 0) continue;
    passed += 1;
    assert.equal(manifestOf(checkedListing(check, linked, previous)), predicted, v.what);
  }
  // The check lets through what the manifest does not record: inodes and link counts (not the
  // linked file's), sizes of directories and links, a link's mode.
  assert.ok(passed >= 15, `only ${passed} variants passed the check`);
});
