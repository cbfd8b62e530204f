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
  if (resets) return [];
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
