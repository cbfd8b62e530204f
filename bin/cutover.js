#!/usr/bin/env node
// CommonJS (bin/package.json says so): Node starts a CommonJS entry faster than an ES module.
const { main } = require("../dist/cutover.cjs");

// `cutover releases | head` closes the pipe early; that is not an error.
process.stdout.on("error", (error) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
