/**
 * POSIX single-quote one word. Everything between single quotes is literal in every POSIX shell
 * (dash included), so the only character needing care is the quote itself: close, escape, reopen.
 */
export function quote(word: string): string {
  if (word === "") return "''";
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function quoteArgv(argv: readonly string[]): string {
  return argv.map(quote).join(" ");
}
