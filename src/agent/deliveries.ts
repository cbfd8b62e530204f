/**
 * Delivery ids (or body digests) already accepted, oldest forgotten first: replays are refused,
 * memory stays bounded.
 */
export class Deliveries {
  readonly #seen = new Set<string>();
  constructor(
    readonly limit: number,
    initial: readonly string[] = [],
  ) {
    for (const id of initial) this.add(id);
  }

  has(id: string): boolean {
    return this.#seen.has(id);
  }

  add(id: string): void {
    this.#seen.delete(id);
    this.#seen.add(id);
    while (this.#seen.size > this.limit) this.#seen.delete(this.#seen.values().next().value!);
  }

  list(): string[] {
    return [...this.#seen];
  }
}
