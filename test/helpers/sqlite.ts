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

/**
 * A PHP (PDO) connection to `db`, opened as a request opens it: the database file is open from the
 * start, its -wal/-shm files only from the first statement. `exec` runs one statement per call.
 */
export async function phpConnection(
  db: string,
): Promise<{ exec(statement: string): Promise<void>; close(): Promise<void> }> {
  const code = `$db = new PDO('sqlite:' . $argv[1]);
$db->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
$db->setAttribute(PDO::ATTR_TIMEOUT, 30);
echo "open\\n";
while (($line = fgets(STDIN)) !== false) { $db->exec(trim($line)); echo "ok\\n"; }`;
  const child = spawn("php", ["-r", code, "--", db], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let exited = false;
  child.stdout!.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr!.on("data", (c: Buffer) => {
    err += c.toString();
  });
  child.once("exit", () => {
    exited = true;
  });
  const until = async (count: number) => {
    while (out.split("\n").length - 1 < count) {
      if (exited) throw new Error(`php connection to ${db} ended: ${err || out}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  await until(1);
  let lines = 1;
  return {
    exec: async (statement) => {
      child.stdin!.write(`${statement}\n`);
      await until(++lines);
    },
    close: () =>
      new Promise((resolve) => {
        if (exited) return resolve();
        child.once("exit", () => resolve());
        child.stdin!.end();
      }),
  };
}
