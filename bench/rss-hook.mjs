// Loaded with --import: reports this process's peak RSS (KiB) on fd 3 when it exits.
import { writeSync } from "node:fs";

process.on("exit", () => {
  try {
    writeSync(3, `${process.resourceUsage().maxRSS}\n`);
  } catch {}
});
