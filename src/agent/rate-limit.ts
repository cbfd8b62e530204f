/** A token bucket: `perMinute` requests a minute on average, bursts up to the same number. */
export class RateLimit {
  #tokens: number;
  #at: number;
  constructor(
    readonly perMinute: number,
    readonly now: () => number = Date.now,
  ) {
    this.#tokens = perMinute;
    this.#at = now();
  }

  /** Takes a token; false when there is none (answer 429). */
  take(): boolean {
    const t = this.now();
    this.#tokens = Math.min(this.perMinute, this.#tokens + ((t - this.#at) / 60_000) * this.perMinute);
    this.#at = t;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Seconds until the next token. */
  retryAfter(): number {
    return Math.max(1, Math.ceil(((1 - this.#tokens) * 60) / this.perMinute));
  }
}
