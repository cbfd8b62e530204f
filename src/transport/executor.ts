import type { Transfer } from "../plan/steps.js";
import type { Cmd } from "../shell/cmd.js";

export interface RunResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export interface RunOptions {
  readonly timeoutMs?: number;
  /** The far side's limit for this run, when shorter than the target's command_timeout. */
  readonly timeoutSeconds?: number;
  /** Receives output lines as they arrive (hooks, builds). */
  readonly onLine?: (stream: "stdout" | "stderr", line: string) => void;
}

export interface TransferStats {
  readonly files: number;
  readonly filesTransferred: number;
  readonly bytesTransferred: number;
}

/**
 * Runs commands on one target. Local and SSH targets implement the same interface, so the engine
 * never knows which it talks to. `run` resolves with any exit code; it rejects only when the
 * transport itself fails (connection lost, timeout).
 */
export interface Executor {
  readonly host: string;
  run(cmds: readonly Cmd[], options?: RunOptions): Promise<RunResult>;
  transfer(transfer: Transfer, options?: RunOptions): Promise<TransferStats>;
  /** Starts connecting now, so the connection overlaps local work; run() would connect anyway. */
  connect(): void;
  /**
   * Stops whatever runs now (Ctrl-C, or another host failed): the running step's whole process group
   * on the target, and a transfer. Resolves when it is gone; the executor stays usable.
   */
  interrupt(): Promise<void>;
  close(): Promise<void>;
}

export class TransportError extends Error {
  constructor(
    readonly host: string,
    message: string,
    readonly stderr = "",
  ) {
    super(message);
    this.name = "TransportError";
  }
}
