import { writeFileSync } from "node:fs";
import path from "node:path";
import { stringify } from "yaml";
import { type Fixture, fixture } from "./fixture.js";

/**
 * A codebase in three parts (api/, admin/, worker/), each with its own PHP files, `.env` and
 * uploads, and a cutover.yaml with `components:` for them: api and admin under the host's deploy
 * path (admin at a path of its own), worker at an absolute path. The build hook writes which
 * component it ran for into the release.
 */
export interface Parts {
  readonly fx: Fixture;
  /** Deploy path of each component on the (first) host. */
  readonly paths: Readonly<Record<"api" | "admin" | "worker", string>>;
  writeConfig(components?: Record<string, unknown>, hosts?: Record<string, unknown>[]): void;
}

export function parts(): Parts {
  const fx = fixture("parts");
  for (const part of ["api", "admin", "worker"]) {
    fx.file(`${part}/public/index.php`, `<?php echo '${part} v1';\n`);
    fx.file(`${part}/.env`, `PART=${part}\n`);
    fx.file(`${part}/storage/uploads/seed.txt`, `${part} upload\n`);
  }
  const worker = path.join(fx.dir, "worker's path $x");
  const defaults = {
    api: {},
    admin: { path: "admin part" },
    worker: { path: worker, keep_releases: 2 },
  };
  const writeConfig = (
    components: Record<string, unknown> = defaults,
    hosts: Record<string, unknown>[] = [{ path: fx.deployPath }],
  ) => {
    const config = {
      source: ".",
      exclude: [".git"],
      shared_dirs: ["storage/uploads"],
      shared_files: [".env"],
      hooks: { build: ['printf %s "$CUTOVER_COMPONENT" > built-for'] },
      components,
      stages: { test: { hosts } },
    };
    writeFileSync(fx.config, stringify(config));
  };
  writeConfig();
  return {
    fx,
    paths: {
      api: path.join(fx.deployPath, "api"),
      admin: path.join(fx.deployPath, "admin part"),
      worker,
    },
    writeConfig,
  };
}
