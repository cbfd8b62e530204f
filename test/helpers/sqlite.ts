import { type ChildProcess, execFileSync, spawn } from "node:child_process";

/** Runs SQL through the sqlite3 CLI (waiting up to 10 s for a busy database); the output as text. */
export function sql(db: string, statements: string): string {
  return execFileSync("sqlite3", ["-cmd", ".timeout 10000", db, statements]).toString().trim();
}

/**
 * A connection held open in WAL mode with automatic checkpoints off, like a busy app: committed rows
 * stay in the -wal file, so a plain copy of the database file alone lacks them.
 */
export async function walWriter(
  db: string,
): Promise<{ exec(statements: string): Promise<void>; close(): Promise<void> }> {
  const child: ChildProcess = spawn("sqlite3", [db], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  child.stdout!.on("data", (c: Buffer) => {
    out += c.toString();
  });
  let n = 0;
  const exec = async (statements: string) => {
    const mark = `done-${++n}`;
    child.stdin!.write(`${statements}\nSELECT '${mark}';\n`);
    while (!out.includes(mark)) await new Promise((r) => setTimeout(r, 10));
  };
  await exec("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;");
  return {
    exec,
    close: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.stdin!.end();
      }),
  };
}
