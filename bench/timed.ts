import { spawn } from "node:child_process";

/**
 * Wall time of a command that must succeed, and its stdout. Async, so what runs in the benchmark's
 * own process (a proxy, log readers) keeps running meanwhile. `settleMs`: waited after the command
 * ends and not counted (for logs to be read).
 */
export async function timed(
  args: string[],
  cwd: string,
  settleMs = 0,
): Promise<{ ms: number; stdout: string }> {
  const started = process.hrtime.bigint();
  const child = spawn(args[0]!, args.slice(1), { cwd });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await new Promise<number | null>((r) => child.on("close", r));
  if (code !== 0) throw new Error(`${args.join(" ")} failed: ${stderr}`);
  if (settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
  return { ms: Number(process.hrtime.bigint() - started) / 1e6 - settleMs, stdout };
}
