import assert from "node:assert/strict";
import { test } from "node:test";
import { decideDelta, dirModeCmds, linkCmds, rsyncList, type SourceEntry } from "../../src/plan/delta.js";
import { checkDelta, parseDeltaCheck } from "../../src/plan/delta-check.js";
import { manifestEntries } from "../../src/plan/diff.js";
import { renderCmd } from "../../src/shell/cmd.js";

const h = (c: string) => c.repeat(64);
const own = true;
const source: SourceEntry[] = [
  { path: ".", type: "d", mode: "755", size: 0, own },
  { path: "src", type: "d", mode: "2755", size: 0, own },
  { path: "src/same.php", type: "f", mode: "644", size: 3, hash: h("a"), own },
  { path: "src/edited.php", type: "f", mode: "644", size: 3, hash: h("b"), own },
  { path: "src/chmod.sh", type: "f", mode: "755", size: 3, hash: h("c"), own },
  { path: "src/new.php", type: "f", mode: "644", size: 5, hash: h("d"), own },
  { path: "link", type: "l", mode: "777", size: 3, link: "src", own },
];
const previous = manifestEntries(
  [
    `"src" d 2755`,
    `"src/same.php" f 644 ${h("a")}`,
    `"src/edited.php" f 644 ${h("9")}`,
    `"src/chmod.sh" f 644 ${h("c")}`,
    `"link" l "src"`,
    `"gone.php" f 644 ${h("e")}`,
    `not a manifest line`,
  ].join("\n"),
);

test("only files whose mode and content the previous manifest records are linked; the rest is sent", () => {
  const d = decideDelta(source, previous);
  assert.deepEqual(d.link, ["src/same.php"]);
  assert.deepEqual(d.send, ["src/edited.php", "src/chmod.sh", "src/new.php", "link"]);
  assert.equal(d.foreignOwners, false);
  assert.deepEqual(rsyncList(d), ["./src/edited.php", "./src/chmod.sh", "./src/new.php", "./link"]);
  // Another owner somewhere: rsync sends the directories too (owner and group as any upload sets them).
  const other = decideDelta(
    source.map((e) => (e.path === "src" ? { ...e, own: false } : e)),
    previous,
  );
  assert.equal(other.foreignOwners, true);
  assert.deepEqual(rsyncList(other).slice(0, 3), [".", "./src", "./src/edited.php"]);
  assert.deepEqual(
    d.dirs.map((x) => x.path),
    [".", "src"],
  );
});

test("linking and directory commands: one each, run as subshells of the script (no exec of their arguments), every path kept", () => {
  const many = Array.from({ length: 6000 }, (_, i) => `${"d/".repeat(20)}file-${i}.php`);
  const cmds = linkCmds("/p/releases/a", "/p/releases/b", {
    link: many,
    dirs: [".", "d", "d/d"].map((path) => ({ path, mode: "755" })),
    send: [],
    foreignOwners: false,
  });
  assert.deepEqual(
    cmds.map((c) => c.label),
    ["make directories", "link unchanged files"],
  );
  // ~300 kB of names: more than one exec may take, so they must never reach an exec whole.
  for (const c of cmds) assert.match(renderCmd(c), /^\(set \+e\nset -- /);
  assert.deepEqual(cmds[0]!.argv.slice(5), ["d", "d/d"]);
  assert.deepEqual(cmds[1]!.argv.slice(6), many);
  assert.deepEqual(
    linkCmds("/a", "/b", { link: [], dirs: [{ path: ".", mode: "755" }], send: [], foreignOwners: false }),
    [],
  );
  const modes = dirModeCmds("/p/releases/b", decideDelta(source, previous));
  assert.deepEqual(
    modes.map((c) => c.argv.slice(4)),
    [
      ["/p/releases/b", "00755", "."],
      ["/p/releases/b", "02755", "src"],
    ],
  );
});

/** A host listing: new release entries, hashes, previous files changed since their manifest, their inodes. */
function listing(
  entries: string[][],
  previousFiles: string[][],
  hashes: string[] = [],
  changed: string[] = [],
) {
  // Rows read type, mode, size, inode, path, link; the check prints them as a manifest listing does.
  const records = entries.map(([type, mode, size, inode, path, link]) => [
    type,
    mode,
    size,
    path,
    link,
    inode,
    "1",
  ]);
  return [
    ...records.flat(),
    "@@hashes",
    ...hashes,
    "@@changed",
    ...tagged(changed),
    ...previousFiles.flatMap(([inode, path]) => ["i", inode!, path!]),
    "@@previous",
    "",
  ].join("\0");
}
/** Changed pairs (path, mtime) as the walk's "c" records; "@@no-manifest" stays as it is printed. */
function tagged(changed: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < changed.length; i += 2)
    out.push(...(changed[i] === "@@no-manifest" ? [] : ["c"]), changed[i]!, changed[i + 1]!);
  return out;
}
const checked = (...args: Parameters<typeof listing>) => parseDeltaCheck(listing(...args));
const good = [
  ["d", "2755", "4096", "10", "./src", ""],
  ["f", "644", "3", "11", "./src/same.php", ""],
  ["f", "644", "3", "12", "./src/edited.php", ""],
  ["f", "755", "3", "13", "./src/chmod.sh", ""],
  ["f", "644", "5", "14", "./src/new.php", ""],
  ["l", "777", "3", "15", "./link", "src"],
];
const prevFiles = [
  ["11", "./src/same.php"],
  ["20", "./src/edited.php"],
];

test("the check passes on exactly the source, and names what differs otherwise", () => {
  assert.deepEqual(checkDelta(checked(good, prevFiles), source, ["src/same.php"]), []);
  const bad = good.map((e) => [...e]);
  bad[1]![3] = "99"; // linked, but not to the previous release's file at that path
  bad[3]![1] = "644";
  bad.splice(4, 1);
  bad.push(["f", "644", "1", "30", "./extra.php", ""]);
  assert.deepEqual(checkDelta(checked(bad, prevFiles), source, ["src/same.php"]), [
    "src/chmod.sh: mode 644, not 755",
    "src/new.php: missing",
    "src/same.php: not linked to the previous release's file at that path",
    "extra.php: not in the source",
  ]);
  assert.deepEqual(
    checkDelta(checked(good, prevFiles, [], ["./src/same.php", "1764525000.1234567890"]), source, [
      "src/same.php",
    ]),
    ["src/same.php: changed in the previous release after its manifest was written"],
  );
  assert.deepEqual(checkDelta(checked(good, prevFiles, [], ["@@no-manifest", ""]), source, []), [
    ".: the previous release has no manifest file",
  ]);
  // The source's own (future) mtime is no change.
  assert.deepEqual(
    checkDelta(
      checked(good, prevFiles, [], ["./src/same.php", "1764525000.0000000010"]),
      source,
      ["src/same.php"],
      [],
      (p) => (p === "src/same.php" ? "1764525000.000000001" : undefined),
    ),
    [],
  );
  // A directory (or an ancestor) changed: a name in it may have been renamed over, keeping its mtime.
  const dirNote =
    "src/same.php: its directory changed in the previous release after its manifest was written (an entry added, removed or renamed there: the app should write only in shared paths and writable_dirs)";
  for (const dir of ["./src", "."])
    assert.deepEqual(
      checkDelta(checked(good, prevFiles, [], [dir, "1764525000.0000000010"]), source, ["src/same.php"]),
      [dirNote],
    );
  assert.deepEqual(
    checkDelta(
      checked(good, prevFiles, [], ["./src", "1764525000.0000000010"]),
      source,
      ["src/same.php"],
      [],
      (p) => (p === "src" ? "1764525000.000000001" : undefined),
    ),
    [],
  );
  const written = ["src/new.php"];
  assert.deepEqual(
    checkDelta(checked(good, prevFiles, [`${h("d")}  ./src/new.php`]), source, [], written),
    [],
  );
  assert.deepEqual(checkDelta(checked(good, prevFiles, [`${h("0")}  ./src/new.php`]), source, [], written), [
    "src/new.php: content is not the source's",
  ]);
  assert.deepEqual(checkDelta(parseDeltaCheck(good.flat().join("\0")), source, []), [
    "the host's listing of the new release is cut short",
  ]);
  // The previous release's walk is whole only up to its end marker, whatever its names are.
  const whole = listing(good, prevFiles);
  const cut = whole.slice(0, whole.indexOf("./src/edited.php") + "./src/edited.php".length);
  assert.equal(parseDeltaCheck(cut).previousInode, undefined);
  const named = parseDeltaCheck(listing(good, [["30", "./@@previous"], ...prevFiles]));
  assert.deepEqual([...(named.previousInode ?? [])].sort(), [
    ["@@previous", "30"],
    ["src/edited.php", "20"],
    ["src/same.php", "11"],
  ]);
});
