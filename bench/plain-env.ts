/**
 * Benchmarks measure cutover as a plain Node starts it. With NODE_EXTRA_CA_CERTS set, Node 20 reads
 * and parses that certificate file at every start, before any code runs (~70 ms on the 2-core VM of
 * the README's figures); the benchmarked deploys make no TLS connection. The variable is removed
 * from the benchmark's environment (so from every process it starts), and the run says so.
 */
export function withoutExtraCaCerts(): void {
  if (process.env.NODE_EXTRA_CA_CERTS === undefined) return;
  delete process.env.NODE_EXTRA_CA_CERTS;
  console.log("NODE_EXTRA_CA_CERTS is unset for these runs (Node 20 loads it at every start)");
}
