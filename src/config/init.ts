import { existsSync } from "node:fs";
import path from "node:path";

export type Framework = "laravel" | "symfony" | "wordpress" | "php";

export function detectFramework(dir: string): Framework {
  const has = (p: string) => existsSync(path.join(dir, p));
  if (has("artisan") && has("bootstrap/app.php")) return "laravel";
  if (has("bin/console") && (has("config/bundles.php") || has("symfony.lock"))) return "symfony";
  if (has("wp-config.php") || has("wp-login.php") || has("wp-config-sample.php")) return "wordpress";
  return "php";
}

interface Proposal {
  readonly sharedDirs: string[];
  readonly sharedFiles: string[];
  readonly writableDirs: string[];
  readonly build: string[];
}

const COMPOSER = "composer install --no-dev --prefer-dist --no-interaction --optimize-autoloader";

function propose(framework: Framework, dir: string): Proposal {
  const composer = existsSync(path.join(dir, "composer.json")) ? [COMPOSER] : [];
  switch (framework) {
    case "laravel":
      return {
        sharedDirs: ["storage"],
        sharedFiles: [".env"],
        writableDirs: ["bootstrap/cache"],
        build: [...composer, "php artisan config:cache", "php artisan route:cache", "php artisan view:cache"],
      };
    case "symfony":
      return {
        sharedDirs: ["var/log"],
        sharedFiles: [".env.local"],
        writableDirs: ["var/cache"],
        build: [...composer, "php bin/console cache:warmup --env=prod"],
      };
    case "wordpress":
      return {
        sharedDirs: ["wp-content/uploads"],
        sharedFiles: ["wp-config.php"],
        writableDirs: [],
        build: composer,
      };
    case "php":
      return {
        sharedDirs: [],
        sharedFiles: existsSync(path.join(dir, ".env")) ? [".env"] : [],
        writableDirs: [],
        build: composer,
      };
  }
}

const list = (items: string[], indent: string) =>
  items.length === 0 ? " []" : `\n${items.map((i) => `${indent}- ${JSON.stringify(i)}`).join("\n")}`;

/** A commented cutover.yaml for the app in `dir`, with the detected framework's usual paths. */
export function initTemplate(
  dir: string,
  deployPath: string,
  schema: string,
): { framework: Framework; text: string } {
  const framework = detectFramework(dir);
  const p = propose(framework, dir);
  const text = `# yaml-language-server: $schema=${schema}
# cutover.yaml: written by \`cutover init\` (detected: ${framework}).
# Reference: README.md, section "Configuration". Every top-level key can be overridden per stage.

# Directory to ship, relative to this file.
source: .
# rsync exclude patterns (a leading / anchors to the source root).
exclude:
  - .git
  - .cutover
  - node_modules
# Good releases kept on each host (the live one and the rollback target are always kept).
keep_releases: 5

# Live in DEPLOY_PATH/shared/ and are symlinked into every release. On the first deploy, shared/
# is seeded from the source's copy when there is one.
shared_dirs:${list(p.sharedDirs, "  ")}
shared_files:${list(p.sharedFiles, "  ")}

# Directories the app writes to inside a release (per release, never hard-linked to older ones).
# Entries may be "path" or { path, mode, owner, group }; mode defaults to 0775.
writable_dirs:${list(p.writableDirs, "  ")}

# Shell commands run in the new release directory on each host. Environment: CUTOVER_RELEASE,
# CUTOVER_RELEASE_PATH, CUTOVER_DEPLOY_PATH, CUTOVER_PREVIOUS_RELEASE, CUTOVER_STAGE,
# CUTOVER_COMPONENT (empty without components:), CUTOVER_HOST (the host's name).
# A failing build or before_switch hook aborts the deploy; current is not touched.
hooks:
  build:${list(p.build, "    ")}
  before_switch: []
  after_switch: []
  after_rollback: []
  on_failure: []

# PHP caches (README, "PHP: no stale code"). With nginx, \`cutover server-config nginx\` prints a server
# block that needs no reset. Otherwise reset OPcache through php-fpm after every switch:
# php:
#   fpm:
#     - socket: /run/php/php8.2-fpm.sock     # or 127.0.0.1:9000
#       reset: opcache                       # none (nginx $realpath_root), opcache, or reload
#   warmup: [src]                            # PHP files compiled before the switch
# or, for Apache with mod_php (\`cutover server-config apache --php mod_php\`):
#   mod_php: true
#   reload_command: "apachectl graceful"
# \`cutover doctor\` checks the hosts for settings that would serve stale code.

stages:
  production:
    hosts:
      - name: local
        path: ${JSON.stringify(deployPath)}
`;
  return { framework, text };
}
