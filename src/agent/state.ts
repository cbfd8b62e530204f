import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";

/** What pull and the agent remember between runs: commits that failed, webhook deliveries seen. */
export interface AgentState {
  readonly failed: readonly FailedCommit[];
  readonly deliveries: readonly string[];
  /** sha256 (hex) of the webhook bodies accepted. */
  readonly bodies: readonly string[];
}

export interface FailedCommit {
  readonly commit: string;
  readonly at: string;
  readonly reason: string;
}

const FAILED_KEPT = 100;
export const DELIVERIES_KEPT = 1000;

// The file sits in the deploy path: read as untrusted, anything unexpected is dropped.
const stateSchema = z.object({
  failed: z
    .array(
      z.object({
        commit: z.string().regex(/^[0-9a-f]{40}$/),
        at: z.string().max(100).catch(""),
        reason: z.string().max(2000).catch(""),
      }),
    )
    .catch([]),
  deliveries: z.array(z.string().max(200)).catch([]),
  bodies: z.array(z.string().regex(/^[0-9a-f]{64}$/)).catch([]),
});

const EMPTY: AgentState = { failed: [], deliveries: [], bodies: [] };

/** The state file's content; missing or unreadable gives an empty state and a reason to log. */
export function readState(file: string): { state: AgentState; problem?: string } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { state: EMPTY };
    return { state: EMPTY, problem: `cannot read ${file}: ${(error as Error).message}` };
  }
  try {
    const parsed = stateSchema.safeParse(JSON.parse(text));
    if (parsed.success) return { state: parsed.data };
  } catch {
    // not JSON: reported below
  }
  return { state: EMPTY, problem: `${file} is not agent state; starting with an empty one` };
}

/** Replaces the file atomically (write, then rename), so a crash never leaves half a file. */
export function writeState(file: string, state: AgentState): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const kept: AgentState = {
    failed: state.failed.slice(-FAILED_KEPT),
    deliveries: state.deliveries.slice(-DELIVERIES_KEPT),
    bodies: state.bodies.slice(-DELIVERIES_KEPT),
  };
  writeFileSync(tmp, `${JSON.stringify(kept, null, 2)}\n`);
  renameSync(tmp, file);
}

/** The state with `commit` remembered as failed (or forgotten, once it deployed fine). */
export function withFailure(state: AgentState, failure: FailedCommit): AgentState {
  return { ...state, failed: [...state.failed.filter((f) => f.commit !== failure.commit), failure] };
}

export function withoutFailure(state: AgentState, commit: string): AgentState {
  return { ...state, failed: state.failed.filter((f) => f.commit !== commit) };
}
