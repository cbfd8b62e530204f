// Loaded with --require (CommonJS: an --import hook would start Node's ES module loader, which
// cutover's CommonJS entry does not need): reports on fd 3, when the process exits, how long after
// its start (performance.now() counts from there) it started its first child process.
const { ChildProcess } = require("node:child_process");
const { writeSync } = require("node:fs");

const spawn = ChildProcess.prototype.spawn;
let first;
ChildProcess.prototype.spawn = function (options) {
  first ??= performance.now();
  return spawn.call(this, options);
};
process.on("exit", () => {
  try {
    writeSync(3, `${first ?? -1}\n`);
  } catch {}
});
