import { type Cmd, cmd, shProgram } from "../shell/cmd.js";
import type { Layout } from "./layout.js";
import type { LockOwner } from "./lock.js";
import type { ReleaseMeta } from "./release-meta.js";

/** Write a file so readers see the old or the new content, never a torn one. */
export function writeFileAtomic(file: string, content: string): Cmd[] {
  const tmp = `${file}.tmp`;
  return [cmd(["printf", "%s", content], { stdoutTo: tmp }), cmd(["mv", "-f", "--", tmp, file])];
}

export function writeMeta(l: Layout, meta: ReleaseMeta): Cmd[] {
  return writeFileAtomic(l.releaseMeta(meta.id), `${JSON.stringify(meta)}\n`);
}

export type HistoryEvent = "deploy" | "rollback" | "unlock" | "cleanup";

export interface HistoryEntry {
  readonly event: HistoryEvent;
  readonly outcome: "ok" | "failed" | "aborted" | "rolled-back" | "degraded";
  readonly stage: string;
  readonly host: string;
  readonly release: string | null;
  readonly previous: string | null;
  readonly revision: string | null;
  readonly who: string;
  readonly at: string;
  readonly duration_ms: number | null;
  readonly reason: string | null;
}

/** One JSON line appended to .cutover/history.jsonl (one short O_APPEND write). */
export function appendHistory(l: Layout, entry: HistoryEntry): Cmd {
  return cmd(["printf", "%s\\n", JSON.stringify(entry)], { stdoutTo: l.history, append: true });
}

const UNLOCK = `
owner=$1/owner.json
if grep -q -F -- "\\"token\\":\\"$2\\"" "$owner" 2>/dev/null; then rm -rf -- "$1"; fi
`;

/** Removes the lock only if we still own it: never delete someone else's lock. */
export function releaseLock(l: Layout, owner: LockOwner): Cmd {
  return shProgram(UNLOCK, [l.lock, owner.token]);
}

export function removeRelease(l: Layout, id: string): Cmd[] {
  return [cmd(["rm", "-rf", "--", l.release(id), l.releaseMeta(id), l.releaseManifest(id)])];
}
