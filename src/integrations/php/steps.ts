import path from "node:path/posix";
import type { PhpPool, PhpSettings } from "../../config/resolve.js";
import type { Layout } from "../../plan/layout.js";
import { writeFileAtomic } from "../../plan/records.js";
import { type Cmd, cmd, shProgram } from "../../shell/cmd.js";
import { FCGI_CLIENT_PHP } from "./fcgi-client.js";
import { runtimeScriptPhp } from "./runtime-script.js";

/** Where one run's PHP helper files live: outside the docroot, readable by the FPM user. */
export interface RuntimeFiles {
  readonly dir: string;
  /** Directories above `dir` the FPM user must be able to enter. */
  readonly parents: readonly string[];
  readonly client: string;
  readonly script: string;
  readonly list: string;
}

function filesIn(dir: string, parents: readonly string[]): RuntimeFiles {
  return {
    dir,
    parents,
    client: path.join(dir, "fcgi-client.php"),
    script: path.join(dir, "runtime.php"),
    list: path.join(dir, "warmup.txt"),
  };
}

/** Under the deploy path's .cutover/tmp (a deploy or rollback holds the lock there). */
export function runtimeFiles(l: Layout, nonce: string): RuntimeFiles {
  return filesIn(path.join(l.tmp, `php-${nonce}`), [l.meta, l.tmp]);
}

/** Under /tmp, for read-only inspection (doctor): nothing in the deploy path is touched. */
export function inspectionFiles(nonce: string): RuntimeFiles {
  return filesIn(`/tmp/cutover-doctor-${nonce}`, []);
}

const LIST = `set -e
rel=$1 out=$2; shift 2
: > "$out"
for p; do [ -e "$rel/$p" ] && find "$rel/$p" -type f -name '*.php' >> "$out"; done
chmod 644 "$out"
`;

/** Writes the client, the runtime script and (for warm-up) the list of the release's PHP files. */
export function installRuntime(
  l: Layout,
  files: RuntimeFiles,
  release: string,
  warmup: readonly string[],
): Cmd[] {
  return [
    cmd(["mkdir", "-p", "--", files.dir]),
    cmd(["chmod", "755", "--", ...files.parents, files.dir]),
    ...writeFileAtomic(files.client, FCGI_CLIENT_PHP),
    ...writeFileAtomic(files.script, runtimeScriptPhp(l.current, files.list)),
    cmd(["chmod", "644", "--", files.client, files.script]),
    shProgram(LIST, [l.release(release), files.list, ...warmup]),
  ];
}

export function removeRuntime(files: RuntimeFiles): Cmd {
  return cmd(["rm", "-rf", "--", files.dir]);
}

const ASK = `php=$1 client=$2 address=$3 script=$4 query=$5 times=$6
out=$(mktemp -d) || exit 1
pids=
i=0
while [ "$i" -lt "$times" ]; do
  "$php" "$client" "$address" "$script" "$query" > "$out/$i" 2> "$out/$i.err" &
  pids="$pids $!"
  i=$((i + 1))
done
rc=0
i=0
for pid in $pids; do
  wait "$pid" || { rc=$?; cat "$out/$i.err" >&2; }
  cat "$out/$i"
  echo
  i=$((i + 1))
done
rm -rf "$out"
exit "$rc"
`;

/**
 * Asks a pool `times` times at once (separate connections, so several workers answer, and a busy
 * pool costs one queue wait, not `times`) to run an action.
 */
export function askPool(
  php: PhpSettings,
  files: RuntimeFiles,
  pool: PhpPool,
  action: "status" | "reset" | "warmup",
  times = 1,
): Cmd {
  return shProgram(ASK, [
    php.binary,
    files.client,
    pool.address,
    files.script,
    `action=${action}`,
    String(times),
  ]);
}

const GET = `"$1" "$2" "$3" "$4"
`;

/** One FastCGI GET of a script (e.g. a smoke check inside the new release): exit 3 on HTTP >= 400. */
export function requestScript(php: PhpSettings, files: RuntimeFiles, address: string, script: string): Cmd {
  return shProgram(GET, [php.binary, files.client, address, script]);
}
