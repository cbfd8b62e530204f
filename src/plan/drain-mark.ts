import path from "node:path/posix";
import { type Cmd, shProgram } from "../shell/cmd.js";
import type { Layout } from "./layout.js";

/**
 * A host's record that cutover took its server out of the balancer: written (under the host's lock)
 * before the take-out, removed once the server is back in service. A run killed in between, or one
 * whose put-back failed, leaves it: the next run can then tell cutover's own drain from an operator's
 * and put back only its own.
 */
export interface DrainMark {
  /** describeBalancer(): the balancer it was taken out of. */
  readonly balancer: string;
  readonly server: string;
  readonly at: string;
  readonly who: string;
  /** The release its host was left on when it could not be switched back: it stays out for it. */
  readonly unchecked?: string;
}

export const drainMarkPath = (l: Layout): string => path.join(l.meta, "drained.json");

/**
 * Written whole (temp file, rename). Something else at its name (a link, a directory) fails the step
 * before the take-out and is left as it is: a rename would go into a directory, a write through a link.
 */
const WRITE_MARK = `if [ -L "$1" ] || { [ -e "$1" ] && [ ! -f "$1" ]; }; then
  echo "$1 is not a regular file: cutover cannot record its drain there (remove it)" >&2; exit 1
fi
rm -f -- "$1.tmp" && set -C && printf '%s\\n' "$2" > "$1.tmp" && mv -f -T -- "$1.tmp" "$1"`;

export function writeDrainMark(l: Layout, mark: DrainMark): Cmd[] {
  return [shProgram(WRITE_MARK, [drainMarkPath(l), JSON.stringify(mark)], { label: "record the drain" })];
}

/**
 * Only a regular file is read or removed: a link or a directory at that name is left alone. Its head
 * only (a mark is a line of JSON): a huge file there is not read whole into this process.
 */
const READ_MARK = `if [ -f "$1" ] && [ ! -L "$1" ]; then head -c 65536 -- "$1"; fi`;
const REMOVE_MARK = `if [ -f "$1" ] && [ ! -L "$1" ]; then rm -f -- "$1"; fi`;

export function readDrainMark(l: Layout): Cmd {
  return shProgram(READ_MARK, [drainMarkPath(l)], { label: "read the drain mark" });
}

export function removeDrainMark(l: Layout): Cmd {
  return shProgram(REMOVE_MARK, [drainMarkPath(l)], { label: "remove the drain mark" });
}

/** The mark, if it is one and names this balancer and server; anything else is not cutover's drain. */
export function parseDrainMark(text: string, balancer: string, server: string): DrainMark | undefined {
  if (text.trim() === "") return undefined;
  try {
    const m = JSON.parse(text) as Partial<DrainMark>;
    return m.balancer === balancer && m.server === server && typeof m.at === "string"
      ? (m as DrainMark)
      : undefined;
  } catch {
    return undefined;
  }
}
