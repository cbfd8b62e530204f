import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/**
 * Node's http or https module for a URL, loaded on first use: with tls they cost start-up time
 * that a run without health URLs or webhooks never needs. (`require`, not `import()`: the CLI
 * bundle runs as a vm.Script, where Node 20 has no dynamic import.)
 */
export function httpClient(url: string): typeof import("node:http") | typeof import("node:https") {
  return url.startsWith("https:") ? require("node:https") : require("node:http");
}
