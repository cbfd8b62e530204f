// Loaded with --require (CommonJS: --import would start Node's slower ES module loader): reports this process's peak RSS (KiB), its CPU time and the CPU time of the
// children it waited for (ms, from /proc/self/stat) as JSON on fd 3 when it exits.
const { readFileSync, writeSync } = require("node:fs");

process.on("exit", () => {
  try {
    const usage = process.resourceUsage();
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 16 and 17 of stat (cutime, cstime) are at 13 and 14 after the command name.
    const ticks = Number(fields[13]) + Number(fields[14]);
    const childrenMs = (ticks * 1000) / 100; // USER_HZ is 100 on Linux
    writeSync(
      3,
      `${JSON.stringify({ maxRSS: usage.maxRSS, userMs: usage.userCPUTime / 1000, systemMs: usage.systemCPUTime / 1000, childrenMs })}\n`,
    );
  } catch {}
});
