export interface PollStatus {
  readonly lastAt: string | null;
  readonly lastCommit: string | null;
  readonly lastError: string | null;
  /** Failed polls in a row: the wait doubles with each, up to the maximum. */
  readonly failures: number;
  readonly nextAt: string | null;
}

/** The wait before the next poll: the interval, doubled per failure in a row, at most `maxMs`. */
export function nextDelay(intervalMs: number, maxMs: number, failures: number): number {
  return Math.min(Math.max(intervalMs, maxMs), intervalMs * 2 ** Math.min(failures, 30));
}

/** Calls `poll` now and then every interval; after errors it backs off exponentially. */
export class Poller {
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #status: PollStatus = { lastAt: null, lastCommit: null, lastError: null, failures: 0, nextAt: null };

  constructor(
    private readonly intervalMs: number,
    private readonly maxMs: number,
    private readonly poll: () => Promise<string>,
    private readonly onError: (error: Error, failures: number, retryInMs: number) => void,
  ) {}

  start(): void {
    void this.#tick();
  }

  async #tick(): Promise<void> {
    let failures = 0;
    try {
      const commit = await this.poll();
      this.#status = {
        ...this.#status,
        lastAt: new Date().toISOString(),
        lastCommit: commit,
        lastError: null,
      };
    } catch (error) {
      failures = this.#status.failures + 1;
      this.#status = {
        ...this.#status,
        lastAt: new Date().toISOString(),
        lastError: (error as Error).message,
      };
      this.onError(error as Error, failures, nextDelay(this.intervalMs, this.maxMs, failures));
    }
    if (this.#stopped) return;
    const delay = nextDelay(this.intervalMs, this.maxMs, failures);
    this.#status = { ...this.#status, failures, nextAt: new Date(Date.now() + delay).toISOString() };
    this.#timer = setTimeout(() => void this.#tick(), delay);
  }

  get status(): PollStatus {
    return this.#status;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
