import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { ROOT } from "../helpers/cli.js";

const PURE = ["shell", "plan", "strategies", "integrations"];
const FORBIDDEN = [
  /from "node:(fs|child_process|net|http|https|dgram)(\/promises)?"/,
  /from "\.\.\/(transport|engine|cli)\//,
];

test("pure layers import no I/O and no transport or engine code", () => {
  for (const dir of PURE) {
    const full = path.join(ROOT, "src", dir);
    let files: string[] = [];
    try {
      files = readdirSync(full).filter((f) => f.endsWith(".ts"));
    } catch {
      continue;
    }
    for (const file of files) {
      const text = readFileSync(path.join(full, file), "utf8");
      for (const pattern of FORBIDDEN)
        assert.doesNotMatch(text, pattern, `src/${dir}/${file} must stay pure`);
    }
  }
});
