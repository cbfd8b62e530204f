import net from "node:net";

/**
 * A TCP proxy on loopback that holds every chunk `oneWayMs` before passing it on, in both
 * directions: a network with a round-trip time of 2 × oneWayMs (no netem on this kernel). Order
 * is kept: chunks leave in the order they came, each no earlier than its arrival plus the delay.
 */
export async function latencyProxy(
  listen: string,
  to: { host: string; port: number },
  oneWayMs: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const delayed = (from: net.Socket, into: net.Socket) => {
    from.on("data", (chunk: Buffer) => {
      setTimeout(() => {
        if (!into.destroyed) into.write(chunk);
      }, oneWayMs);
    });
    from.on("end", () => setTimeout(() => into.end(), oneWayMs));
    from.on("error", () => into.destroy());
  };
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect(to.port, to.host);
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    }
    delayed(client, upstream);
    delayed(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, listen, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
