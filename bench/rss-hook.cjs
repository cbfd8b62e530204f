// Loaded with --require (CommonJS, so the run is not moved onto Node's slower ES module loader, as
// --import would): reports this process's peak RSS (KiB) on fd 3 when it exits.
const { writeSync } = require("node:fs");

process.on("exit", () => {
  try {
    writeSync(3, `${process.resourceUsage().maxRSS}\n`);
  } catch {}
});
