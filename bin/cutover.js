#!/usr/bin/env node
// CommonJS (bin/package.json says so): Node starts a CommonJS entry faster than an ES module.

// A deploy's listings stay alive while the young generation grows from 1 MB by doubling, so each
// early scavenge copies them again: growing it 8-fold halves GC time (~60 to ~25 ms of an incremental
// deploy of 5,000 files). V8 reads the factor at each GC. Only on Node 20, where it is measured: an
// unknown flag would print an error.
if (process.versions.node.startsWith("20.")) {
  require("node:v8").setFlagsFromString("--semi-space-growth-factor=8");
}
const { main } = require("../dist/cutover.cjs");

// `cutover releases | head` closes the pipe early; that is not an error.
process.stdout.on("error", (error) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
