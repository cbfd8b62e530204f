import { spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";

export interface GitHttp {
  /** The bare repository's URL on this server, without credentials. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A git smart-HTTP server for one bare repository (`git http-backend` as CGI) on a free loopback
 * port, answering only requests with HTTP basic auth of `user` and `password`: git then takes the
 * credentials from the URL, and hands them to any credential helper configured. While `failFetch`
 * returns true, fetches fail with 503 and listings (`git ls-remote`) still work.
 */
export async function gitHttp(
  bare: string,
  user: string,
  password: string,
  options: { failFetch?: () => boolean } = {},
): Promise<GitHttp> {
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"' }).end();
      return;
    }
    const body: Buffer[] = [];
    req.on("data", (c: Buffer) => body.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      const input = Buffer.concat(body);
      // An outage of the fetch alone (protocol v2: ls-refs still answers), as a network failing midway.
      if (options.failFetch?.() && input.includes("command=fetch")) {
        res.writeHead(503).end();
        return;
      }
      const cgi = spawn("git", ["http-backend"], {
        env: {
          ...process.env,
          GIT_PROJECT_ROOT: path.dirname(bare),
          GIT_HTTP_EXPORT_ALL: "1",
          PATH_INFO: decodeURIComponent(url.pathname),
          QUERY_STRING: url.search.slice(1),
          REQUEST_METHOD: req.method ?? "GET",
          CONTENT_TYPE: req.headers["content-type"] ?? "",
          CONTENT_LENGTH: String(input.length),
          HTTP_CONTENT_ENCODING: req.headers["content-encoding"] ?? "",
          GIT_PROTOCOL: String(req.headers["git-protocol"] ?? ""),
          REMOTE_USER: user,
        },
      });
      const out: Buffer[] = [];
      cgi.stdout.on("data", (c: Buffer) => out.push(c));
      cgi.on("close", () => {
        const all = Buffer.concat(out);
        const end = all.indexOf("\r\n\r\n");
        let status = 200;
        const headers: Record<string, string> = {};
        for (const line of all.subarray(0, end).toString().split("\r\n")) {
          const [name = "", ...rest] = line.split(": ");
          if (name.toLowerCase() === "status") status = Number.parseInt(rest.join(": "), 10);
          else headers[name] = rest.join(": ");
        }
        res.writeHead(status, headers).end(all.subarray(end + 4));
      });
      // http-backend may exit without reading the body (a GET, a refusal): its answer tells, not EPIPE.
      cgi.stdin.on("error", () => undefined);
      cgi.stdin.end(input);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${encodeURIComponent(path.basename(bare))}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
