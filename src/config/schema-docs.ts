/**
 * What editors show when hovering a key of cutover.yaml (schema/cutover.schema.json), by key path;
 * a stage's and a component's settings share the top level's. The README's configuration section says more.
 */
export const KEY_DOCS: Readonly<Record<string, string>> = {
  source: "Directory to ship, relative to this file (default: its directory).",
  exclude:
    "rsync patterns left out of the upload; a leading / anchors at the source root (default: .git, .cutover).",
  keep_releases: "Good releases kept per host (default 5); the live one and the rollback target always stay.",
  strategy:
    "releases (default: a directory per release, `current` an atomic symlink) or in-place (`current` is one real directory, updated by rsync --delay-updates; weaker: see the README), or git (releases extracted on each host from a commit of `repository`).",
  repository:
    "strategy: git: the repository URL, or a path (relative to this file); each host mirrors it in .cutover/repo.",
  ref: "strategy: git: the branch, tag or full 40-character commit id to deploy (default HEAD); `deploy --ref` overrides it.",
  repository_path: "strategy: git: deploy only this sub-directory of the repository (e.g. app).",
  submodules: "strategy: git: also extract the commit's submodules (default false).",
  submodules_allow_local:
    "strategy: git with submodules: let submodule URLs that are local paths or file:// be cloned (default false: a .gitmodules you do not control could copy any repository on the host into the release).",
  build:
    "Build once: local is a list of commands run on this machine in a clean export (git: of the commit); the result is uploaded to every host and its manifest verified there before the switch.",
  keep_builds: "strategy: in-place: builds kept on the deploying machine for rollback (default 3).",
  shared_dirs:
    "Directories in DEPLOY_PATH/shared/, symlinked into every release; seeded from the source on the first deploy.",
  shared_files:
    "Files in DEPLOY_PATH/shared/ (e.g. .env), symlinked into every release; never created empty.",
  writable_dirs:
    'Directories the app writes inside a release: per release, never hard-linked; "path" or { path, mode, owner, group }.',
  hooks:
    "Shell commands run in the release directory on every host: build, before_switch, after_switch, after_rollback, on_failure, before_batch, after_batch.",
  ssh: "connect_timeout (seconds), accept_new_host_keys (trust an unknown host key on first use, never a changed one) and persist (seconds each host's connection stays open after a run, for the next run to reuse without a new handshake; 0, the default, closes it with the run).",
  command_timeout:
    "Seconds any one step may run on a host; its whole process group is killed after (default 3600).",
  "upload.compare":
    "How rsync compares where a deploy has no release to build on (first deploy, in-place): mtime (size + nanosecond mtime, default) or checksum (content). A delta upload always compares content.",
  pools:
    "strategy: blue-green: the host names of the blue and the green pool; a deploy goes to the pool out of the balancer, then the balancer switches to it.",
  balancer:
    "The load balancer in front of the hosts (type: haproxy or nginx): with rolling, each batch is taken out of it while it switches.",
  rolling: "Switch in batches: batch (a number of hosts or a percentage) and pause_seconds between batches.",
  rollback_on: "[after_switch]: a failing after_switch hook on any host switches every host back.",
  php: "PHP runtime: php-fpm pools and their reset (none, opcache, reload), mod_php, warm-up, reset checks.",
  smoke:
    "Checks before the switch, on every host, while the old release serves: commands and HTTP through php-fpm.",
  health_check:
    "After the switch, per host: url (with expect_*) or command; a failure switches every host back.",
  notify: "Webhooks on started, succeeded, failed, rolled_back: JSON or Slack, signed with secret.",
  probe: "HTTP load that `deploy --probe` runs during the deploy: url and concurrency.",
  snapshots:
    "Hard-link snapshots of DEPLOY_PATH/shared/: before_deploy (take one before every deploy) and keep (complete snapshots kept per host, default 5).",
  agent:
    "`cutover agent`: listen (default 127.0.0.1), port (default 9720), secrets (webhook secrets, from the environment as $VAR in braces), poll (seconds, default 60, 0 = off), backoff_max, body_limit, rate_limit (requests a minute), state_file.",
  stages: "Stage name → its hosts and any top-level setting to override.",
  hosts:
    'Where to deploy: "[user@]host[:port]:/absolute/path", or { name, host, user, port, path, identity_file, ssh_options, roles }; no host = this machine.',
  "hosts[].path": "The deploy path on the host (absolute): current, releases/, shared/ live here.",
  "hosts[].name": "The host's name in output and for --hosts (default: host, or local).",
  "hosts[].identity_file": "The SSH private key for this host (ssh -i).",
  "hosts[].ssh_options": 'Any `ssh -o` options, as "Name=value".',
  "hosts[].roles": "Roles that hooks with `roles:` run on, and that components with `roles:` deploy to.",
  components:
    "Parts deployed apart (name → settings): each has its own source, releases, current, shared/ and .cutover/ under its own deploy path; its keys win over the stage's.",
  "components.*.source":
    "The part's directory, relative to the stage's source (default: the component's name).",
  "components.*.path":
    "The part's deploy path: relative to each host's deploy path (default: the component's name), or absolute.",
  "components.*.roles": "Deploy this part only to the stage's hosts with one of these roles (default: all).",
};
