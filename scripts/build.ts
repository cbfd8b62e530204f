// Bundles the CLI into dist/ (`npm run build`; prepack runs it too):
//   dist/cli.cjs      the whole CLI, one CommonJS bundle; its commands' modules run only when used
//   dist/cutover.cjs  what bin/cutover.js requires: loads cli.cjs with V8's code cache (src/boot)
// CommonJS because a vm.Script (which takes a code cache on Node 20) runs scripts, not ES modules,
// and because Node starts CommonJS faster.
// dist/ is emptied first, so nothing stale is packed.
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  logLevel: "warning",
  format: "cjs",
  // import.meta does not exist in CommonJS; the few modules that locate files use the bundle's URL.
  define: { "import.meta.url": "__bundleUrl" },
  banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
} as const;
rmSync(dist, { recursive: true, force: true });
await build({
  ...common,
  entryPoints: [path.join(root, "src/cli/main.ts")],
  outfile: path.join(dist, "cli.cjs"),
});
// esbuild turns import() of bundled modules into plain calls, but keeps it for Node's own modules,
// and a vm.Script on Node 20 cannot import(): such code would fail only when it runs.
const dynamicImport = /\bimport\s*\(\s*["'`]([^"'`]+)/.exec(readFileSync(path.join(dist, "cli.cjs"), "utf8"));
if (dynamicImport) {
  console.error(`build: dist/cli.cjs has import("${dynamicImport[1]}"); use createRequire (see src/transport/http-client.ts)`);
  process.exit(1);
}
await build({
  ...common,
  entryPoints: [path.join(root, "src/boot/entry.ts")],
  outfile: path.join(dist, "cutover.cjs"),
});
