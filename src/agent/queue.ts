/**
 * At most one job running and one waiting: triggers while one runs collapse into the single waiting
 * job, which looks at the newest state of the repository when it starts.
 */
export class DeployQueue {
  #running: Promise<void> | undefined;
  #queued: string | undefined;
  #closed = false;

  constructor(private readonly job: (reason: string) => Promise<void>) {}

  /** Returns what happened to the trigger: started, queued (replacing an older waiting one) or refused. */
  trigger(reason: string): "started" | "queued" | "closed" {
    if (this.#closed) return "closed";
    if (this.#running) {
      this.#queued = reason;
      return "queued";
    }
    this.#start(reason);
    return "started";
  }

  #start(reason: string): void {
    this.#running = this.job(reason)
      .catch(() => undefined) // the job logs its own failures
      .finally(() => {
        this.#running = undefined;
        const next = this.#queued;
        this.#queued = undefined;
        if (next !== undefined && !this.#closed) this.#start(next);
      });
  }

  get running(): boolean {
    return this.#running !== undefined;
  }

  get queued(): string | undefined {
    return this.#queued;
  }

  /** No new jobs; the waiting one is dropped; resolves when the running one has ended. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#queued = undefined;
    while (this.#running) await this.#running;
  }
}
