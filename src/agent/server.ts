import http from "node:http";
import type { Log } from "./log.js";
import type { RateLimit } from "./rate-limit.js";
import type { Headers } from "./webhook.js";
import type { Answer } from "./webhook-handler.js";

export interface ServerOptions {
  readonly bodyLimitBytes: number;
  readonly rateLimit: RateLimit;
  readonly status: () => unknown;
  readonly webhook: (headers: Headers, body: Buffer) => Answer;
  readonly log: Log;
}

/** Far more than forges send at once; a flood of idle sockets stops here, not at the process's fd limit. */
export const MAX_CONNECTIONS = 128;
const LIMITED_LOG_MS = 60_000;

function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  extra: Record<string, string> = {},
): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...extra,
  });
  res.end(text);
}

/**
 * Refuses a request whose body is too large: answers at once, then reads and drops the rest (a
 * client still sending would otherwise get a reset instead of the answer), up to a bound in bytes
 * and time, after which the connection is cut.
 */
function tooLarge(req: http.IncomingMessage, res: http.ServerResponse, log: Log, limit: number): void {
  log("warn", "webhook.rejected", { reason: `body larger than ${limit} bytes`, status: 413 });
  let dropped = 0;
  const cut = setTimeout(() => req.destroy(), 10_000);
  req.on("data", (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > 16 * limit) req.destroy();
  });
  req.on("close", () => clearTimeout(cut));
  req.resume();
  // No "Connection: close": node would close the socket under a client still sending, which then
  // sees a reset instead of this answer.
  send(res, 413, { status: "rejected", reason: `body larger than ${limit} bytes` });
}

/** `GET /status` and `POST /webhook`; every request counts against the rate limit. */
export function agentServer(options: ServerOptions): http.Server {
  const { log } = options;
  // One line per refused request would let anyone fill the disk (or make journald drop the
  // agent's own lines): one a minute at most, counting the refused requests since the last.
  let limited = 0;
  let loggedAt = Number.NEGATIVE_INFINITY;
  let pending: NodeJS.Timeout | undefined;
  const logLimited = (req?: http.IncomingMessage) => {
    clearTimeout(pending);
    pending = undefined;
    if (limited === 0) return;
    const fields = req ? { method: req.method, path: req.url?.slice(0, 200) } : {};
    log("warn", "request.limited", { ...fields, status: 429, count: limited });
    limited = 0;
    loggedAt = Date.now();
  };
  const server = http.createServer((req, res) => {
    if (!options.rateLimit.take()) {
      limited += 1;
      const wait = loggedAt + LIMITED_LOG_MS - Date.now();
      if (wait <= 0) logLimited(req);
      else pending ??= setTimeout(() => logLimited(), wait).unref();
      req.resume();
      send(
        res,
        429,
        { status: "rejected", reason: "rate limit" },
        { "retry-after": String(options.rateLimit.retryAfter()) },
      );
      return;
    }
    const url = (req.url ?? "").split("?")[0];
    if (req.method === "GET" && url === "/status") return send(res, 200, options.status());
    if (url !== "/webhook") {
      req.resume();
      return send(res, 404, { status: "rejected", reason: "GET /status or POST /webhook" });
    }
    if (req.method !== "POST") {
      req.resume();
      return send(res, 405, { status: "rejected", reason: "webhooks are POSTed" }, { allow: "POST" });
    }
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > options.bodyLimitBytes) return tooLarge(req, res, log, options.bodyLimitBytes);
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on("data", (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > options.bodyLimitBytes) {
        refused = true;
        tooLarge(req, res, log, options.bodyLimitBytes);
      } else chunks.push(chunk);
    });
    req.on("end", () => {
      if (refused) return;
      let result: Answer;
      try {
        result = options.webhook(req.headers, Buffer.concat(chunks));
      } catch (error) {
        log("error", "webhook.error", { reason: (error as Error).message, status: 500 });
        return send(res, 500, {
          status: "error",
          reason: "the agent could not handle this delivery; see its log",
        });
      }
      log(result.status >= 400 ? "warn" : "info", result.event, { ...result.fields, status: result.status });
      send(res, result.status, result.body);
    });
    req.on("error", () => undefined); // a client that goes away mid-body is nobody's problem
  });
  // Connections that never send a request pass no rate limit and live 10-40 s (headersTimeout,
  // checked every 30 s): unbounded, they use up the descriptors a deploy needs to start git.
  // Past this many, node closes new ones at once.
  server.maxConnections = MAX_CONNECTIONS;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.on("clientError", (_, socket) => socket.destroy());
  server.on("close", () => logLimited());
  return server;
}
