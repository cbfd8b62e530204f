import path from "node:path/posix";
import { underPath, whereText } from "./config-files.js";
import { type DeployRoots, nginxRootPath, rootText, servesDeployPath } from "./linked-roots.js";
import { type Directive, named } from "./nginx-parse.js";
import { NGINX_DOLLAR } from "./server-config.js";

export interface WebFinding {
  readonly level: "error" | "warning";
  readonly check: "nginx" | "apache" | "web-config";
  readonly message: string;
  readonly fix: string;
}

export interface NginxJudgement {
  readonly findings: readonly WebFinding[];
  /** A PHP location for the deploy path resolves the symlink per request ($realpath_root). */
  readonly resolvesPerRequest: boolean;
}

/** The variable a value starts with: `$document_root$fastcgi_script_name` → document_root. */
function leadingVariable(value: string | undefined): string | undefined {
  return value === undefined ? undefined : /^\$\{?(\w+)/.exec(value)?.[1];
}

/**
 * The literal path a SCRIPT_FILENAME starts with (a leading `set` variable's value put in) when it
 * goes through the deploy path's `current` (or a root linking into it): PHP then sees current/
 * paths, exactly as with $document_root. Undefined for anything else.
 */
function literalThroughCurrent(
  value: string | undefined,
  sets: ReadonlyMap<string | undefined, string>,
  deploy: DeployRoots,
): string | undefined {
  if (value === undefined) return undefined;
  const lead = leadingVariable(value);
  const set = lead === undefined ? undefined : sets.get(lead);
  const text = set === undefined ? value : value.replace(/^\$\{?\w+\}?/, () => set);
  // Up to the first variable; server-config writes a literal $ as ${cutover_dollar}.
  const literal = (text.split(/\$(?!\{cutover_dollar\})/)[0] ?? "").replaceAll(NGINX_DOLLAR, "$");
  if (!literal.startsWith("/")) return undefined;
  const current = path.join(deploy.path, "current");
  return underPath(literal, current) || deploy.linked.has(literal) ? literal : undefined;
}

/** Every location with a fastcgi_pass, with its enclosing blocks (outermost first). */
function phpLocations(block: readonly Directive[], outer: readonly Directive[]): Directive[][] {
  return block.flatMap((d) => {
    if (d.name !== "location" && d.name !== "if") return [];
    const chain = [...outer, d];
    const own = named(d.block, "fastcgi_pass").length > 0 ? [chain] : [];
    return [...own, ...phpLocations(d.block ?? [], chain)];
  });
}

/** A fastcgi_pass address as php.fpm writes it: a socket path, or host:port (localhost as 127.0.0.1). */
const poolAddress = (value: string) => value.replace(/^unix:/, "").replace(/^localhost:/, "127.0.0.1:");

/** Where a fastcgi_pass sends requests: its address, or its upstream's servers; undefined for a variable. */
function passTargets(
  pass: Directive,
  upstreams: ReadonlyMap<string, readonly string[]>,
): string[] | undefined {
  const to = pass.args[0];
  if (to === undefined || to.includes("$")) return undefined;
  return [...(upstreams.get(to) ?? [to])].map(poolAddress);
}

function servers(block: readonly Directive[]): Directive[] {
  return block.flatMap((d) => (d.name === "server" ? [d] : d.name === "http" ? servers(d.block ?? []) : []));
}

/**
 * Judges every server block, and every PHP location in it, whose root (or literal SCRIPT_FILENAME)
 * serves the deploy path, as
 * nginx reads them: the nearest `root` or `alias`; the fastcgi_params of the innermost level that has any
 * (nginx inherits them only into levels without their own); the last SCRIPT_FILENAME (php-fpm keeps
 * the last); `set` variables of the server and the location. Other sites are not looked at.
 */
export function judgeNginx(
  main: readonly Directive[],
  deploy: DeployRoots,
  /** A php-fpm reset after each switch makes a $document_root config safe (but costly). */
  resets: boolean,
  /** The php.fpm pools cutover resets and verifies on this host. */
  pools: readonly string[] = [],
): NginxJudgement {
  const findings: WebFinding[] = [];
  let resolvesPerRequest = false;
  const http = main.filter((d) => d.name === "http");
  const upstreams = new Map(
    http
      .flatMap((h) => named(h.block, "upstream"))
      .map((u) => [u.args[0] ?? "", named(u.block, "server").flatMap((d) => d.args.slice(0, 1))] as const),
  );
  const known = new Set(pools.map(poolAddress));
  for (const server of servers(main)) {
    for (const chain of phpLocations(server.block ?? [], [])) {
      const levels = [
        main,
        ...http.map((h) => h.block ?? []),
        server.block ?? [],
        ...chain.map((c) => c.block ?? []),
      ];
      const inner = [...levels].reverse();
      // alias and root set the same thing (a nested location inherits whichever is nearer).
      const root = inner
        .map((l) => l.filter((d) => d.name === "root" || d.name === "alias").at(-1))
        .find((d) => d !== undefined);
      const params = inner.map((l) => named(l, "fastcgi_param")).find((p) => p.length > 0) ?? [];
      const param = (name: string) => params.filter((p) => p.args[0] === name).at(-1);
      const setValues = new Map(
        [server.block ?? [], ...chain.map((c) => c.block ?? [])]
          .flatMap((l) => named(l, "set"))
          .map((s) => [leadingVariable(s.args[0]), s.args[1] ?? ""] as const),
      );
      const sets = new Map([...setValues].map(([name, value]) => [name, leadingVariable(value)]));
      const script = param("SCRIPT_FILENAME");
      const direct = leadingVariable(script?.args[1]);
      const literal = literalThroughCurrent(script?.args[1], setValues, deploy);
      const scriptRoot = literal ?? (direct === undefined ? undefined : (sets.get(direct) ?? direct));
      // This deploy path's site: its root is there, or its script is (a root elsewhere, say static files).
      const served = root && servesDeployPath(deploy, nginxRootPath(root)) ? nginxRootPath(root) : literal;
      if (served === undefined) continue;
      const location = chain.at(-1)!;
      const site = `the server block at ${server.at.file}:${server.at.line}, location ${location.args.join(" ")} at line ${location.at.line}`;
      if (script && (literal || scriptRoot === "document_root" || scriptRoot === "request_filename")) {
        findings.push({
          level: resets ? "warning" : "error",
          check: "nginx",
          message: `${whereText(script.at)} passes SCRIPT_FILENAME from ${literal ?? `$${scriptRoot}`} under the symlinked ${rootText(deploy, served)} (${site}): PHP keeps serving the old release from OPcache and the realpath cache${resets ? " (php.fpm reset: opcache covers it, at the cost of a pool-wide OPcache restart per deploy)" : ""}`,
          fix: "use $realpath_root for SCRIPT_FILENAME and DOCUMENT_ROOT (see `cutover server-config nginx`)",
        });
      }
      if (scriptRoot === "realpath_root") resolvesPerRequest = true;
      const pass = named(location.block, "fastcgi_pass").at(-1);
      const targets = pass && resets && known.size > 0 ? passTargets(pass, upstreams) : undefined;
      if (pass && targets && !targets.some((a) => known.has(a))) {
        findings.push({
          level: "warning",
          check: "nginx",
          message: `${whereText(pass.at)} passes PHP to ${pass.args[0]} (${site}), which is not a pool in php.fpm (${pools.join(", ")}): cutover resets and verifies those after each switch, while this one keeps the old release's code`,
          fix: `add it to php.fpm (socket: ${targets[0]}), or correct php.fpm's socket`,
        });
      }
      const docRoot = param("DOCUMENT_ROOT");
      if (script && direct === "realpath_root" && leadingVariable(docRoot?.args[1]) === "realpath_root") {
        findings.push({
          level: "warning",
          check: "nginx",
          message: `${whereText(script.at)} and ${whereText(docRoot!.at)} use $realpath_root for both SCRIPT_FILENAME and DOCUMENT_ROOT (${site}): nginx resolves ${rootText(deploy, served)} again for each, so a switch in between hands one request paths from two releases`,
          fix: "resolve it once per request: `set $cutover_root $realpath_root;` and use $cutover_root in both (see `cutover server-config nginx`)",
        });
      }
    }
  }
  return { findings, resolvesPerRequest };
}
