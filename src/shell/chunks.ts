/** Bytes of arguments per command: far below Linux's 128 KiB for one argument list entry and 2 MiB in all. */
const CHUNK_BYTES = 96_000;

/** Splits arguments into lists that each fit one command line (counted in bytes, as the kernel does). */
export function chunkArgs(items: readonly string[], budget = CHUNK_BYTES): string[][] {
  const chunks: string[][] = [];
  let chunk: string[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(item) + 1;
    if (bytes + size > budget && chunk.length > 0) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(item);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
