import http from "node:http";
import https from "node:https";
import { RELEASE_HEADER } from "../integrations/web/server-config.js";

/** One probe request: when it was sent and answered, how, and which releases it names. */
export interface Sample {
  readonly sentAt: number;
  readonly doneAt: number;
  readonly status: number | null;
  readonly error: "reset" | "timeout" | "refused" | "other" | null;
  /** Release ids the response names: the X-Release and X-Cutover-Release headers, then the body. */
  readonly releases: readonly string[];
  /** For a failure only: the start of the response body, or the socket error. */
  readonly detail?: string;
  /** Sent again on a new connection: the kept-alive one was closed before any answer. */
  readonly retried?: true;
}

/**
 * The first words of a body: enough to tell a web server's error page from the application's.
 * Linear in the body, whatever it holds: `<[^>]*>` went back over the rest of the text from every
 * `<` without a `>` (seconds of the event loop the deploy shares for 64 KiB of them).
 */
function excerpt(text: string): string {
  return text
    .slice(0, 4096)
    .replace(/<[^<>]*>/g, " ")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, 120);
}

export interface ProbeOptions {
  readonly url: string;
  readonly concurrency: number;
  readonly timeoutMs?: number;
  /** Stops by itself after this long, whatever happens (bounded load). */
  readonly maxDurationMs?: number;
  /**
   * Send a (GET, idempotent) request again, once and on a new connection, when its connection was
   * closed before any answer (RFC 9112 9.3.1, RFC 9110 9.2.2): nginx reloading closes idle kept-alive
   * and just-accepted connections, which then fail no client. Such samples are marked `retried`.
   */
  readonly retryClosedKeepAlive?: boolean;
}

/**
 * The probe's clock (epoch ms, monotonic since this process started): samples and the switch
 * window are compared on it, so a wall clock that NTP steps during a deploy cannot misplace them.
 */
export function probeClock(): number {
  return performance.timeOrigin + performance.now();
}

const RELEASE_ID = /\b\d{8}T\d{6}Z\b/g;
/** After a request that failed without an answer: downtime is still seen to within this. */
const FAILED_PAUSE_MS = 20;
/** The app's own header, and the one `server-config nginx` adds from the release nginx resolved. */
const RELEASE_HEADERS = ["x-release", RELEASE_HEADER.toLowerCase()];

/**
 * HTTP load over keep-alive connections: `concurrency` closed-loop clients, each sending the next
 * request when the last one is answered. Records every request; report() judges them.
 */
export class Probe {
  private readonly samples: Sample[] = [];
  private running = false;
  private workers: Promise<void>[] = [];
  private readonly agent: http.Agent;

  constructor(private readonly options: ProbeOptions) {
    const Agent = options.url.startsWith("https:") ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  }

  start(): void {
    this.running = true;
    const deadline = Date.now() + (this.options.maxDurationMs ?? 10 * 60_000);
    const loop = async () => {
      while (this.running && Date.now() < deadline) {
        const sample = await this.once();
        this.samples.push(sample);
        // A refused or reset connection fails at once: without a pause each client would spin,
        // thousands of samples a second for as long as the run lasts.
        if (sample.error !== null && sample.error !== "timeout")
          await new Promise((r) => setTimeout(r, FAILED_PAUSE_MS));
      }
    };
    this.workers = Array.from({ length: this.options.concurrency }, loop);
  }

  async stop(): Promise<Sample[]> {
    this.running = false;
    await Promise.all(this.workers);
    this.agent.destroy();
    return [...this.samples];
  }

  private once(retry?: { readonly sentAt: number }): Promise<Sample> {
    const sentAt = retry?.sentAt ?? probeClock();
    const get = this.options.url.startsWith("https:") ? https.get : http.get;
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    return new Promise((resolve) => {
      // An absolute limit per request, body included: an app that trickles its answer or never ends
      // it resets no idle timer, and stop() waits for the requests in flight.
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      const done = (status: number | null, error: Sample["error"], releases: string[], detail?: string) => {
        clearTimeout(timer);
        resolve({
          sentAt,
          doneAt: probeClock(),
          status,
          error: timedOut ? "timeout" : error,
          releases,
          ...(detail === undefined ? {} : { detail }),
          ...(retry ? { retried: true as const } : {}),
        });
      };
      const req = get(
        this.options.url,
        // A request sent again goes on a connection of its own, not on another kept-alive one.
        { agent: retry ? false : this.agent, timeout: timeoutMs },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            if (body.length < 65536) body += c;
          });
          res.on("end", () => {
            const named = [
              ...RELEASE_HEADERS.flatMap((h) => String(res.headers[h] ?? "").match(RELEASE_ID) ?? []),
              ...(body.match(RELEASE_ID) ?? []),
            ];
            const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300;
            done(res.statusCode ?? null, null, [...new Set(named)], ok ? undefined : excerpt(body));
          });
          res.on("error", (e) => done(res.statusCode ?? null, "reset", [], e.message));
          res.on("close", () => {
            if (!res.complete) done(res.statusCode ?? null, "reset", [], "the answer was cut off");
          });
        },
      );
      timer = setTimeout(() => {
        timedOut = true;
        req.destroy(new Error("timeout"));
      }, timeoutMs);
      req.on("timeout", () => {
        timedOut = true;
        req.destroy(new Error("timeout"));
      });
      let answered = false;
      req.on("response", () => {
        answered = true;
      });
      req.on("error", (e: NodeJS.ErrnoException) => {
        if (this.options.retryClosedKeepAlive && !retry && !answered && e.code === "ECONNRESET") {
          clearTimeout(timer);
          resolve(this.once({ sentAt }));
          return;
        }
        const kind =
          e.message === "timeout"
            ? "timeout"
            : e.code === "ECONNRESET"
              ? "reset"
              : e.code === "ECONNREFUSED"
                ? "refused"
                : "other";
        done(null, kind, [], e.message);
      });
    });
  }
}
