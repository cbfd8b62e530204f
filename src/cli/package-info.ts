import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SCHEMA_PATH } from "../config/schema-path.js";

/**
 * The installed package's root: the nearest directory above this module with cutover's
 * package.json (dist/ when bundled, src/cli/ when run from a clone).
 */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!isCutoverPackage(dir)) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("cutover's package.json was not found above the CLI");
    dir = parent;
  }
  return dir;
}

function isCutoverPackage(dir: string): boolean {
  const file = path.join(dir, "package.json");
  return existsSync(file) && JSON.parse(readFileSync(file, "utf8")).name === "cutover";
}

export function packageVersion(): string {
  return JSON.parse(readFileSync(path.join(packageRoot(), "package.json"), "utf8")).version;
}

/**
 * What `init` writes after `$schema=`: the schema of cutover installed in the project
 * (node_modules/cutover, relative, so it works on every clone), else this installation's by its
 * absolute path (a global install: right on this machine, see README to point editors elsewhere).
 */
export function schemaReference(configDir: string): string {
  const local = path.join("node_modules", "cutover", SCHEMA_PATH);
  if (existsSync(path.join(configDir, local))) return `./${local}`;
  return path.join(packageRoot(), SCHEMA_PATH);
}
