/** Replaces every known secret in text that leaves the process (output, JSON, errors). Longest first. */
export class Redactor {
  private secrets: string[] = [];

  add(values: readonly string[]): void {
    this.secrets = [...new Set([...this.secrets, ...values])].sort((a, b) => b.length - a.length);
  }

  apply(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join("[REDACTED]");
    return out;
  }
}
