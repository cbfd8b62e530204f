import { createHash } from "node:crypto";
import { readFileSync, readlinkSync } from "node:fs";
import type { ProcessState } from "../plan/lock.js";

function read(file: string, how: (f: string) => string = (f) => readFileSync(f, "utf8")): string {
  try {
    return how(file).trim();
  } catch {
    return "";
  }
}

/**
 * Where a pid names one process: the machine id, this boot, and this pid namespace. Cloned VMs
 * share a machine id but not a boot id; containers share both but not a pid namespace.
 */
export function machineIdentity(): string {
  const parts = [
    read("/etc/machine-id"),
    read("/proc/sys/kernel/random/boot_id"),
    read("/proc/self/ns/pid", readlinkSync),
  ];
  return createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 32);
}

/** A local process's state from /proc: its run state (Z = zombie) and start time. */
export function processState(pid: number): ProcessState {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return { kind: "gone" };
  // The command name (field 2) is in parentheses and may hold spaces: fields follow its last ")".
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (rest[0] === "Z" || rest[0] === "X") return { kind: "zombie" };
  return { kind: "running", start: rest[19] };
}
