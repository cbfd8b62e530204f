import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { z } from "zod";
import { CutoverError } from "../errors.js";

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
  /** A transient failure (see transient.ts): tried again from then on, not held against the commit. */
  readonly retry_at?: string;
  /** Transient failures of the commit in a row: the backoff doubles with each. */
  readonly attempts?: number;
  /** The release that attempt made (failed in its history), so that one is not held against the commit either. */
  readonly release?: string;
}

const FAILED_KEPT = 100;
export const DELIVERIES_KEPT = 1000;
/** Far above what the kept entries take (well under 1 MiB): a bigger file was not written by cutover. */
const MAX_STATE_BYTES = 16 * 1024 * 1024;

// The file sits in the deploy path: read as untrusted, anything unexpected is dropped.
const stateSchema = z.object({
  failed: z
    .array(
      z.object({
        commit: z.string().regex(/^[0-9a-f]{40}$/),
        at: z.string().max(100).catch(""),
        reason: z.string().max(2000).catch(""),
        retry_at: z.string().max(100).optional().catch(undefined),
        attempts: z.number().int().min(1).max(1_000_000).optional().catch(undefined),
        release: z.string().max(200).optional().catch(undefined),
      }),
    )
    .catch([]),
  deliveries: z.array(z.string().max(200)).catch([]),
  bodies: z.array(z.string().regex(/^[0-9a-f]{64}$/)).catch([]),
});

const EMPTY: AgentState = { failed: [], deliveries: [], bodies: [] };

/**
 * The deploy path may be writable by others: the state file and the directories it is reached
 * through inside `root` (the deploy path; else just its own directory) must not be symlinks, or
 * cutover would read or write wherever they point. Refused with an error, nothing touched.
 */
function refuseLinks(file: string, root?: string): void {
  const checked = [file];
  const base = root === undefined ? undefined : path.resolve(root);
  for (let dir = path.dirname(path.resolve(file)); ; dir = path.dirname(dir)) {
    const rel = base === undefined ? "" : path.relative(base, dir);
    if (checked.length > 1 && (rel === "" || rel.startsWith("..") || path.isAbsolute(rel))) break;
    checked.unshift(dir);
    if (dir === path.dirname(dir)) break;
  }
  for (const p of checked) {
    let link = false;
    try {
      link = lstatSync(p).isSymbolicLink();
    } catch {
      // missing: nothing to follow
    }
    if (link)
      throw new CutoverError(
        "agent",
        `agent state: ${p} is a symlink; refusing to read or write through it`,
        {
          state: "nothing was changed",
          fix: `remove the link (cutover keeps its state in a regular file; agent.state_file in cutover.yaml sets where)`,
        },
      );
  }
}

/** The state file's content; missing or unreadable gives an empty state and a reason to log. */
export function readState(file: string, root?: string): { state: AgentState; problem?: string } {
  refuseLinks(file, root);
  let text: string;
  try {
    // O_NONBLOCK: a fifo planted here would otherwise hold the open (and the whole agent) forever.
    const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) return { state: EMPTY, problem: `${file} is not a regular file; ignoring it` };
      if (stat.size > MAX_STATE_BYTES)
        return { state: EMPTY, problem: `${file} is larger than ${MAX_STATE_BYTES} bytes; ignoring it` };
      text = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
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

/**
 * Replaces the file atomically (write, then rename), so a crash never leaves half a file. The temp
 * file has a random name and is created exclusively, never through a link planted in its place.
 */
export function writeState(file: string, state: AgentState, root?: string): void {
  refuseLinks(file, root); // before mkdir too: it would create directories behind a link
  mkdirSync(path.dirname(file), { recursive: true });
  refuseLinks(file, root);
  const tmp = `${file}.${randomBytes(8).toString("hex")}.tmp`;
  const kept: AgentState = {
    failed: state.failed.slice(-FAILED_KEPT),
    deliveries: state.deliveries.slice(-DELIVERIES_KEPT),
    bodies: state.bodies.slice(-DELIVERIES_KEPT),
  };
  const fd = openSync(
    tmp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    try {
      writeFileSync(fd, `${JSON.stringify(kept, null, 2)}\n`);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}

/** The state with `commit` remembered as failed (or forgotten, once it deployed fine). */
export function withFailure(state: AgentState, failure: FailedCommit): AgentState {
  return { ...state, failed: [...state.failed.filter((f) => f.commit !== failure.commit), failure] };
}

export function withoutFailure(state: AgentState, commit: string): AgentState {
  return { ...state, failed: state.failed.filter((f) => f.commit !== commit) };
}
