import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { stringify } from "yaml";

export interface Fixture {
  readonly dir: string;
  readonly app: string;
  readonly deployPath: string;
  readonly config: string;
  writeConfig(extra?: Record<string, unknown>, hosts?: Record<string, unknown>[]): void;
  file(relative: string, content: string): void;
  cleanup(): void;
}

/**
 * A temp dir with a small PHP app and a cutover.yaml deploying it to a local target. The names
 * contain spaces, quotes and unicode on purpose: every path through the tool must survive them.
 */
export function fixture(name = "app"): Fixture {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cutover test "));
  const app = path.join(dir, `${name} 'src' ü`);
  const deployPath = path.join(dir, `deploy "path" $HOME ü`);
  const config = path.join(app, "cutover.yaml");
  const file = (relative: string, content: string) => {
    const target = path.join(app, relative);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, content);
  };
  file("public/index.php", "<?php require __DIR__ . '/../src/lib.php'; echo version();\n");
  file("src/lib.php", "<?php function version() { return 'v1'; }\n");
  file(".env", "APP_KEY=secret\n");
  file("storage/uploads/first.txt", "uploaded before the first deploy\n");
  const writeConfig = (
    extra: Record<string, unknown> = {},
    hosts: Record<string, unknown>[] = [{ path: deployPath }],
  ) => {
    const config_ = {
      source: ".",
      exclude: [".git", "cutover.yaml"],
      shared_dirs: ["storage/uploads"],
      shared_files: [".env"],
      writable_dirs: ["bootstrap/cache"],
      ...extra,
      stages: { test: { hosts } },
    };
    writeFileSync(config, stringify(config_));
  };
  writeConfig();
  return {
    dir,
    app,
    deployPath,
    config,
    writeConfig,
    file,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
