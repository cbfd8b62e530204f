import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { stringify } from "yaml";

/** A PHP-like app of `files` files totalling about `megabytes` MB, deterministic content. */
export function generateApp(dir: string, files = 5000, megabytes = 40): void {
  const size = Math.floor((megabytes * 1024 * 1024) / files);
  for (let i = 0; i < files; i++) {
    const file = path.join(dir, "src", `m${i % 50}`, `d${i % 7}`, `Class${i}.php`);
    mkdirSync(path.dirname(file), { recursive: true });
    const head = `<?php\nnamespace App\\M${i % 50};\n\nfinal class Class${i}\n{\n`;
    const body = `    public function value(): int { return ${i}; }\n`.repeat(
      Math.max(1, Math.floor((size - head.length) / 48)),
    );
    writeFileSync(file, `${head}${body}}\n`);
  }
  mkdirSync(path.join(dir, "public"), { recursive: true });
  writeFileSync(path.join(dir, "public", "index.php"), "<?php echo 'v0';\n");
  writeFileSync(path.join(dir, ".env"), "APP_ENV=bench\n");
}

/**
 * The benchmarks' cutover.yaml: the app to `hosts` under `stage`; `persist` > 0 keeps each host's
 * SSH connection open for the next run (ssh.persist).
 */
export function writeBenchConfig(
  app: string,
  stage: string,
  hosts: readonly Record<string, unknown>[],
  persist = 0,
): void {
  writeFileSync(
    path.join(app, "cutover.yaml"),
    stringify({
      exclude: ["cutover.yaml"],
      shared_files: [".env"],
      keep_releases: 3,
      ...(persist > 0 ? { ssh: { persist } } : {}),
      stages: { [stage]: { hosts } },
    }),
  );
}
