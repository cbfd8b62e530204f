import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { ROOT } from "../helpers/cli.js";

/** Folders whose code is pure: data in, data out (commands as data; no I/O, no transport, no engine). */
const PURE = ["shell", "plan", "strategies", "integrations"];
const FORBIDDEN = [
  /from "node:(fs|child_process|net|http|https|dgram)(\/promises)?"/,
  /from "(\.\.\/)+(transport|engine|cli)\//,
];

function tsFiles(dir: string): string[] {
  let entries: import("node:fs").Dirent[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) =>
    e.isDirectory()
      ? tsFiles(path.join(dir, e.name))
      : e.name.endsWith(".ts")
        ? [path.join(dir, e.name)]
        : [],
  );
}

test("pure layers (recursively) import no I/O and no transport, engine or CLI code", () => {
  let checked = 0;
  for (const dir of PURE) {
    for (const file of tsFiles(path.join(ROOT, "src", dir))) {
      const text = readFileSync(file, "utf8");
      for (const pattern of FORBIDDEN)
        assert.doesNotMatch(text, pattern, `${path.relative(ROOT, file)} must stay pure`);
      checked += 1;
    }
  }
  assert.ok(checked > 20, `only ${checked} files checked: the folders moved?`);
});
