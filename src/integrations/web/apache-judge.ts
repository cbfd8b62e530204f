import type { ApacheDirective } from "./apache-parse.js";
import { whereText } from "./config-files.js";
import { type DeployRoots, rootText, servesDeployPath } from "./linked-roots.js";
import type { WebFinding } from "./nginx-judge.js";

/** Directives of a level, looking through conditional sections (`<IfModule>`, `<IfDefine>`, `<If…>`). */
function flat(level: readonly ApacheDirective[]): ApacheDirective[] {
  return level.flatMap((d) => (/^if/i.test(d.name) && d.body ? flat(d.body) : [d]));
}

const is = (d: ApacheDirective, name: string) => d.name.toLowerCase() === name.toLowerCase();

/**
 * Judges the main server and every `<VirtualHost>` whose own DocumentRoot serves the deploy path
 * (one that inherits the main server's is judged with it): Apache passes PHP paths through
 * `current`, so something must reset PHP after each switch (a php-fpm reset, or a graceful reload
 * for mod_php).
 */
export function judgeApache(
  main: readonly ApacheDirective[],
  deploy: DeployRoots,
  /** php-fpm pools are reset after a switch, or mod_php's Apache is reloaded. */
  resets: boolean,
  /** The php.fpm pools cutover resets and verifies on this host. */
  pools: readonly string[] = [],
): WebFinding[] {
  const top = flat(main);
  const mainRoot = top.filter((d) => is(d, "DocumentRoot")).at(-1);
  const vhosts = top.filter((d) => is(d, "VirtualHost"));
  const sites: [string, ApacheDirective | undefined][] = [
    ["the main server", mainRoot],
    ...vhosts.map(
      (v) =>
        [
          `the VirtualHost ${v.args.join(" ")} at ${v.at.file}:${v.at.line}`,
          flat(v.body ?? [])
            .filter((d) => is(d, "DocumentRoot"))
            .at(-1),
        ] as [string, ApacheDirective | undefined],
    ),
  ];
  if (resets) return pools.length === 0 ? [] : unknownPools(main, vhosts, mainRoot, deploy, pools);
  return sites.flatMap(([site, root]) => {
    const dir = root?.args[0] ?? "";
    if (!root || !servesDeployPath(deploy, dir)) return [];
    return [
      {
        level: "error" as const,
        check: "apache" as const,
        message: `${whereText(root.at)} serves ${rootText(deploy, dir)} as Apache's DocumentRoot for ${site}, and nothing resets PHP after a switch: Apache passes paths through current, so PHP keeps serving the old release from OPcache and the realpath cache`,
        fix: "with php-fpm set php.fpm reset: opcache; with mod_php set php.mod_php: true and php.reload_command: apachectl graceful (see `cutover server-config apache`)",
      },
    ];
  });
}

/** Every directive of a level and the sections inside it (`<FilesMatch>`, `<Directory>`, `<If…>`...). */
function deep(level: readonly ApacheDirective[]): ApacheDirective[] {
  return level.flatMap((d) => (d.body && !is(d, "VirtualHost") ? [d, ...deep(d.body)] : [d]));
}

/** The php-fpm address of `SetHandler "proxy:unix:/run/php.sock|fcgi://localhost"` or `proxy:fcgi://127.0.0.1:9000`. */
function handlerPool(d: ApacheDirective): string | undefined {
  if (!is(d, "SetHandler")) return undefined;
  const m = /^proxy:(?:unix:([^|]+)\|fcgi:|fcgi:\/\/([^/]+))/i.exec(d.args[0] ?? "");
  const address = m?.[1] ?? m?.[2];
  return address?.replace(/^localhost:/, "127.0.0.1:");
}

/** Sites for the deploy path whose php-fpm handler is none of the pools cutover resets: that pool keeps old code. */
function unknownPools(
  main: readonly ApacheDirective[],
  vhosts: readonly ApacheDirective[],
  mainRoot: ApacheDirective | undefined,
  deploy: DeployRoots,
  pools: readonly string[],
): WebFinding[] {
  const known = new Set(pools.map((p) => p.replace(/^unix:/, "").replace(/^localhost:/, "127.0.0.1:")));
  const levels: [ApacheDirective | undefined, readonly ApacheDirective[]][] = [
    [mainRoot, main.filter((d) => !is(d, "VirtualHost"))],
    ...vhosts.map((v): [ApacheDirective | undefined, readonly ApacheDirective[]] => [
      flat(v.body ?? [])
        .filter((d) => is(d, "DocumentRoot"))
        .at(-1) ?? mainRoot,
      v.body ?? [],
    ]),
  ];
  return levels.flatMap(([root, body]) => {
    if (!root || !servesDeployPath(deploy, root.args[0] ?? "")) return [];
    return deep(body).flatMap((d) => {
      const pool = handlerPool(d);
      if (pool === undefined || known.has(pool)) return [];
      return [
        {
          level: "warning" as const,
          check: "apache" as const,
          message: `${whereText(d.at)} hands PHP under ${rootText(deploy, root.args[0] ?? "")} to php-fpm at ${pool}, which is not a pool in php.fpm (${pools.join(", ")}): cutover resets and verifies those after each switch, while this one keeps the old release's code`,
          fix: `add it to php.fpm (socket: ${pool}), or correct php.fpm's socket`,
        },
      ];
    });
  });
}
