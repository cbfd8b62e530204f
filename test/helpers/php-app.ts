import { chmodSync } from "node:fs";
import type { Fixture } from "./fixture.js";

/**
 * The probe app: index.php includes lib/a.php, sleeps 50-200 ms, then includes lib/b.php by a path
 * from __DIR__, and reports both files' release ids (baked in by the build hook, so a stale OPcache
 * shows). busy.php burns CPU for 1-2 s (signals cut sleep() short, a loop they do not).
 * `viaCurrent` makes index.php include b.php through DEPLOY_PATH/current instead (a negative control).
 */
export function writeProbeApp(fx: Fixture, options: { viaCurrent?: boolean } = {}): string[] {
  chmodSync(fx.dir, 0o755);
  chmodSync(fx.app, 0o755);
  const b = options.viaCurrent ? `'${fx.deployPath}/current/lib/b.php'` : "__DIR__ . '/../lib/b.php'";
  fx.file(
    "public/index.php",
    `<?php
$a = include __DIR__ . '/../lib/a.php';
usleep(random_int(50, 200) * 1000);
$b = include ${b};
header("X-Release: $a");
echo "start=$a end=$b\\n";
`,
  );
  fx.file(
    "public/busy.php",
    `<?php
$until = microtime(true) + 1.0 + lcg_value();
$n = 0;
while (microtime(true) < $until) { $n++; }
$a = include __DIR__ . '/../lib/a.php';
header("X-Release: $a");
echo "busy $a $n\\n";
`,
  );
  fx.file("public/health.php", "<?php echo 'ok';\n");
  // Written fresh in each release (never into a file hard-linked from an older release).
  return [
    'mkdir -p lib && printf \'<?php return "%s";\\n\' "$CUTOVER_RELEASE" > lib/a.php && cp lib/a.php lib/b.php',
  ];
}
