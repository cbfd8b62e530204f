import assert from "node:assert/strict";
import { cutover, json } from "./cli.js";

/** `cutover snapshot create` in `app`, which must succeed: the new snapshot's id. */
export async function createSnapshotIn(app: string): Promise<string> {
  const r = await cutover(["--json", "snapshot", "create"], app);
  assert.equal(r.code, 0, r.stderr);
  return json<{ id: string }[]>(r)[0]!.id;
}
