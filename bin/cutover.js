#!/usr/bin/env node
// CommonJS (bin/package.json says so): Node starts a CommonJS entry faster than an ES module.

// A deploy's listings stay alive while the young generation grows from 1 MB by doubling, so each
// early scavenge copies them again: growing it 8-fold halves GC time (~60 to ~25 ms of an incremental
// deploy of 5,000 files). V8 reads the factor at each GC. Only on Node 20, where it is measured: an
// unknown flag would print an error.
if (process.versions.node.startsWith("20.")) {
  require("node:v8").setFlagsFromString("--semi-space-growth-factor=8");
}
const { main } = loadBundle();

/** The built CLI; a clone never built gets what to run instead of a stack trace. */
function loadBundle() {
  const bundle = require("node:path").join(__dirname, "..", "dist", "cutover.cjs");
  try {
    return require(bundle);
  } catch (error) {
    // Only the bundle's own absence: a module it cannot load itself is a real error.
    if (error?.code !== "MODULE_NOT_FOUND" || require("node:fs").existsSync(bundle)) throw error;
    const root = require("node:path").resolve(__dirname, "..");
    process.stderr.write(`cutover is not built: run bash scripts/setup.sh (or npm run build) in ${root}\n`);
    process.exit(1);
  }
}

// `cutover releases | head` closes the pipe early; that is not an error.
process.stdout.on("error", (error) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
