import { createHash } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { redactUrl } from "../config/secrets.js";
import { pathsToAsk } from "../integrations/web/exposed.js";

export interface ExposedFile {
  readonly url: string;
  readonly path: string;
}

const TIMEOUT_MS = 5000;
const MAX_BODY = 1024 * 1024;

interface Reply {
  readonly status: number;
  readonly sha256: string;
  readonly location?: string;
}

/**
 * Status and sha256 of the body of one GET (no redirects followed), or undefined when it fails or
 * takes longer than TIMEOUT_MS in all (a server that trickles its answer resets no idle timer here).
 * A body longer than MAX_BODY is no file of the release's dotfiles: it is not read to its end.
 */
function fetchHash(url: string): Promise<Reply | undefined> {
  const client = url.startsWith("https:") ? https : http;
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const settle = (reply: Reply | undefined) => {
      clearTimeout(timer);
      resolve(reply);
    };
    const req = client.get(url, { timeout: TIMEOUT_MS, agent: false }, (res) => {
      const hash = createHash("sha256");
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) hash.update(c);
        else {
          settle({ status: res.statusCode ?? 0, sha256: "" });
          req.destroy();
        }
      });
      const { location } = res.headers;
      res.on("end", () =>
        settle({
          status: res.statusCode ?? 0,
          sha256: hash.digest("hex"),
          ...(location ? { location } : {}),
        }),
      );
      res.on("error", () => settle(undefined));
      res.on("close", () => settle(undefined));
    });
    timer = setTimeout(() => req.destroy(new Error("timeout")), TIMEOUT_MS);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => settle(undefined));
    req.on("close", () => settle(undefined));
  });
}

export interface ExposedReport {
  readonly exposed: readonly ExposedFile[];
  /** Why nothing could be asked (a bad URL, no answer at all): the check did not run. */
  readonly notAsked?: string;
}

/**
 * Asks the web server at `base` (a probe or health check URL) for the files no site may serve:
 * a 200 whose body is the release's own file (same sha256) is exposed. A 200 with another body is an
 * app's fallback page, not the file. Each is asked beside the URL (an app under a path prefix) and
 * at the site's root: below a health URL such as /api/health the app answers /api/.env itself,
 * while the server may hand out /.env. Whether the check ran is told by the asks beside the URL.
 */
export async function exposedFiles(
  base: string,
  candidates: ReadonlyMap<string, ReadonlySet<string>>,
): Promise<ExposedReport> {
  let beside: [string, string][];
  let atRoot: [string, string][];
  try {
    const paths = pathsToAsk(candidates);
    beside = paths.map((path) => [path, new URL(path.slice(1), base).toString()]);
    const asked = new Set(beside.map(([, url]) => url));
    atRoot = paths
      .map((path): [string, string] => [path, new URL(path, base).toString()])
      .filter(([, url]) => !asked.has(url));
  } catch {
    return { exposed: [], notAsked: `${redactUrl(base)} is not a URL` };
  }
  const ask = (urls: [string, string][]) =>
    Promise.all(urls.map(async ([path, url]) => ({ path, url, reply: await fetchHash(url) })));
  const [replies, rootReplies] = await Promise.all([ask(beside), ask(atRoot)]);
  const exposed = [...replies, ...rootReplies]
    .filter((r) => r.reply?.status === 200 && candidates.get(r.path)?.has(r.reply.sha256) === true)
    // Shown as the health check shows its URL: no password, no query values.
    .map(({ path, url }) => ({ path, url: redactUrl(url) }));
  if (replies.every((r) => r.reply === undefined))
    return { exposed, notAsked: `no answer from ${redactUrl(base)}` };
  // Sent elsewhere every time (say http:// to https://): the site itself was never asked.
  const redirect = replies.find((r) => r.reply !== undefined)!;
  if (replies.every((r) => r.reply === undefined || (r.reply.status >= 300 && r.reply.status < 400)))
    return {
      exposed,
      notAsked: `every answer from ${redactUrl(base)} was a redirect (${redirect.reply!.status} to ${shownLocation(redirect.reply!.location, redirect.url)}); set the URL the site is served at`,
    };
  return { exposed };
}

/** A peer's Location header as it may be printed: resolved, its credentials and query hidden. */
function shownLocation(location: string | undefined, from: string): string {
  if (location === undefined) return "nowhere";
  try {
    return redactUrl(new URL(location, from).toString());
  } catch {
    return "an address that is no URL";
  }
}
