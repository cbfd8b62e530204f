import path from "node:path/posix";
import type { ResolvedStage } from "../config/resolve.js";
import { judgeApache } from "../integrations/web/apache-judge.js";
import { parseApache } from "../integrations/web/apache-parse.js";
import {
  listWebServers,
  nginxDump,
  parseConfigFiles,
  parseNginxDump,
  parseWebServers,
  readConfigFiles,
} from "../integrations/web/config-probe.js";
import {
  deployRoots,
  parseLinkedRoots,
  resolveRoots,
  rootsOutside,
} from "../integrations/web/linked-roots.js";
import { judgeNginx, type WebFinding } from "../integrations/web/nginx-judge.js";
import { parseNginx } from "../integrations/web/nginx-parse.js";
import type { Cmd } from "../shell/cmd.js";
import { phpOfHost } from "./php-runtime.js";
import { runStep } from "./steps.js";
import type { Target } from "./targets.js";

export interface WebConfigReading {
  readonly findings: readonly WebFinding[];
  /** A PHP location for the deploy path resolves the symlink per request ($realpath_root). */
  readonly resolvesPerRequest: boolean;
}

interface Root {
  readonly file: string;
  /** nginx's prefix for relative includes, then fallbacks for a site file read on its own. */
  readonly nginxPrefixes: readonly string[];
  readonly serverRoot: string;
}

const DEFAULT_APACHE = ["/etc/apache2/apache2.conf", "/etc/httpd/conf/httpd.conf"];
const MAX_ROUNDS = 8;

const rootFor = (file: string, serverRoot?: string): Root => ({
  file,
  nginxPrefixes: [path.dirname(file), "/etc/nginx"],
  serverRoot: serverRoot ?? (file.startsWith("/etc/httpd/") ? "/etc/httpd" : "/etc/apache2"),
});

/**
 * Reads the web server configuration that serves the deploy path as the servers read it, and judges
 * every site under it. With `configPaths`, the files there (and what they include, wherever it is);
 * otherwise each running nginx's and nginx's default configuration through `nginx -T` (every
 * include resolved by nginx itself), and each running Apache's and the default Apache configuration
 * with its Include/IncludeOptional followed.
 */
export async function readWebConfigs(
  t: Target,
  stage: ResolvedStage,
  configPaths: readonly string[] | undefined,
): Promise<WebConfigReading> {
  const ask = async (c: Cmd) =>
    (await runStep({ executor: t.executor, emit: () => undefined }, "doctor", [c])).stdout.toString("utf8");
  const texts = new Map<string, string>();
  const real = new Map<string, string>();
  const asked = new Set<string>();
  const missing = new Set<string>();
  const read = async (patterns: readonly string[]) => {
    const wanted = patterns.filter((p) => !asked.has(p));
    for (const p of wanted) asked.add(p);
    if (wanted.length === 0) return false;
    const files = parseConfigFiles(await ask(readConfigFiles(wanted)));
    for (const [file, text] of files.texts) texts.set(file, text);
    for (const [file, target] of files.real) real.set(file, target);
    for (const p of files.missing) missing.add(p);
    return true;
  };
  let roots: Root[];
  // A --web-config path not on this host (mistyped) would pass for a config with nothing to judge.
  let notThere: WebFinding[] = [];
  if (configPaths) {
    await read(configPaths);
    notThere = configPaths
      .filter((p) => missing.has(p))
      .map((p) => ({
        level: "error",
        check: "web-config",
        message: `--web-config ${p}: no such file or directory on this host (nothing there was judged)`,
        fix: "give the path of the web server's config on this host, or leave --web-config out to read what the installed nginx and Apache load",
      }));
    // Debian's *-available files count only where *-enabled links them in.
    roots = [...texts.keys()].filter((f) => !/\/[a-z]+-available\//.test(f)).map((f) => rootFor(f));
  } else {
    const servers = parseWebServers(await ask(listWebServers()));
    roots = [];
    for (const nginx of servers.nginx) {
      const dump = parseNginxDump(await ask(nginxDump(nginx)));
      // nginx -T starts each file with a line any file may hold too (nothing marks where one ends):
      // the dump names the files nginx read, their text is read apart, behind unforgeable markers.
      await read([...dump.keys()]);
      for (const [file, text] of dump) if (!texts.has(file)) texts.set(file, text);
      const main = [...dump.keys()][0] ?? nginx.config ?? "/etc/nginx/nginx.conf";
      roots.push(rootFor(main));
    }
    // An Apache started without -f reads its compiled-in default, one of DEFAULT_APACHE.
    const apache = servers.apache.flatMap((a) =>
      a.config ? [rootFor(path.resolve(a.serverRoot ?? "/etc/apache2", a.config), a.serverRoot)] : [],
    );
    const defaults = DEFAULT_APACHE.filter((f) => !apache.some((r) => r.file === f));
    roots.push(...apache, ...defaults.map((f) => rootFor(f)));
    await read(roots.map((r) => r.file).filter((f) => !texts.has(f)));
  }
  const parse = () =>
    roots.map((r) => ({
      root: r,
      nginx: parseNginx(texts, r.file, r.nginxPrefixes),
      apache: parseApache(texts, r.file, r.serverRoot),
    }));
  let parsed = parse();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const unresolved = parsed.flatMap((p) => [...p.nginx.unresolved, ...p.apache.unresolved]);
    if (!(await read(unresolved))) break;
    parsed = parse();
  }
  // A file another one includes (itself, or through a symlink) is judged as part of it only.
  const included = new Set(
    parsed
      .flatMap((p) => [...p.nginx.files.slice(1), ...p.apache.files.slice(1)])
      .flatMap((f) => [f, real.get(f) ?? f]),
  );
  const resets = stage.php.pools.some((p) => p.reset !== "none");
  const deployPath = t.host.path;
  const mains = parsed.filter((p) => !included.has(p.root.file) && texts.has(p.root.file));
  const outside = rootsOutside(
    mains.flatMap((p) => p.nginx.directives),
    mains.flatMap((p) => p.apache.directives),
    deployPath,
  );
  const deploy = deployRoots(
    deployPath,
    outside.length === 0
      ? new Set()
      : parseLinkedRoots(await ask(resolveRoots(deployPath, outside)), deployPath, outside),
  );
  const pools = phpOfHost(stage, t.host).php.pools.map((pool) => pool.address);
  const judged = mains.map((p) => ({
    nginx: judgeNginx(p.nginx.directives, deploy, resets, pools),
    apache: judgeApache(p.apache.directives, deploy, resets || stage.php.modPhp, pools),
  }));
  // An include loop, or includes past the budget: what they would have added was not judged.
  const cut = mains.flatMap((p) =>
    (["nginx", "apache"] as const).flatMap((check) => {
      const why = p[check].cut;
      if (why === undefined) return [];
      return [
        {
          level: "warning" as const,
          check,
          message: `${why}: the sites of ${p.root.file} were judged without it`,
          fix: "remove the include loop (or the include of a whole directory from a file inside it)",
        },
      ];
    }),
  );
  const findings = [...notThere, ...judged.flatMap((j) => [...j.nginx.findings, ...j.apache]), ...cut];
  return {
    findings: [...new Map(findings.map((f) => [f.message, f])).values()],
    resolvesPerRequest: judged.some((j) => j.nginx.resolvesPerRequest),
  };
}
