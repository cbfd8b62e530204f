import { type Cmd, shProgram } from "../../shell/cmd.js";
import type { ApacheDirective } from "./apache-parse.js";
import { underPath } from "./config-files.js";
import type { Directive } from "./nginx-parse.js";
import { NGINX_DOLLAR } from "./server-config.js";

/**
 * The web roots that serve the deploy path: below it as written, or through a link on the host
 * (`root /var/www/html` where /var/www/html links to DEPLOY_PATH/current/public, a common layout
 * that serves the deploy path's releases as surely as naming them).
 */
export interface DeployRoots {
  readonly path: string;
  /** Roots, as the config writes them, that resolve into the deploy path on the host. */
  readonly linked: ReadonlySet<string>;
}

export function deployRoots(path: string, linked: ReadonlySet<string> = new Set()): DeployRoots {
  return { path, linked };
}

export function servesDeployPath(deploy: DeployRoots, root: string): boolean {
  return underPath(root, deploy.path) || deploy.linked.has(root);
}

/** How a root reads in a finding: a linked one says where it leads. */
export function rootText(deploy: DeployRoots, root: string): string {
  return underPath(root, deploy.path) ? root : `${root} (a link into ${deploy.path})`;
}

/** A `root` or `alias` as a path: server-config writes a literal $ in a path as ${cutover_dollar}. */
export const nginxRootPath = (d: Directive) => (d.args[0] ?? "").replaceAll(NGINX_DOLLAR, "$");

const MAX_ROOTS = 200;

/**
 * Every absolute root the configs write outside the deploy path, without variables (nginx resolves
 * those per request): the candidates for a link into it. Bounded: the configs are the host's.
 */
export function rootsOutside(
  nginx: readonly Directive[],
  apache: readonly ApacheDirective[],
  deployPath: string,
): string[] {
  const found = new Set<string>();
  const walkNginx = (block: readonly Directive[]) => {
    for (const d of block) {
      if (d.name === "root" || d.name === "alias") found.add(nginxRootPath(d));
      walkNginx(d.block ?? []);
    }
  };
  const walkApache = (level: readonly ApacheDirective[]) => {
    for (const d of level) {
      if (d.name.toLowerCase() === "documentroot") found.add(d.args[0] ?? "");
      walkApache(d.body ?? []);
    }
  };
  walkNginx(nginx);
  walkApache(apache);
  return [...found]
    .filter((r) => r.startsWith("/") && !r.includes("$") && !underPath(r, deployPath))
    .slice(0, MAX_ROOTS);
}

/**
 * The deploy path, then each root, each followed by where it resolves on the host (every link
 * followed; empty where it cannot be resolved), NUL-separated. Read-only.
 */
const RESOLVE = `for p; do
  r=$(readlink -f -- "$p" 2>/dev/null && printf x) || r=
  r=\${r%x}
  printf '%s\\0%s\\0' "$p" "\${r%?}"
done
exit 0
`;

export function resolveRoots(deployPath: string, roots: readonly string[]): Cmd {
  return shProgram(RESOLVE, [deployPath, ...roots], { label: "resolve the web roots" });
}

/** The roots whose resolution lies in the deploy path's. The answer is the host's: only asked roots count. */
export function parseLinkedRoots(output: string, deployPath: string, asked: readonly string[]): Set<string> {
  const fields = output.split("\0");
  const resolved = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) resolved.set(fields[i]!, fields[i + 1]!);
  const base = resolved.get(deployPath);
  if (!base) return new Set();
  return new Set(
    asked.filter((root) => {
      const to = resolved.get(root);
      return to !== undefined && to !== "" && underPath(to, base);
    }),
  );
}
