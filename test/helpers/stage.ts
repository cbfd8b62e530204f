import { type ResolvedStage, SecretValues } from "../../src/config/resolve.js";

/** A resolved stage for unit tests of pure planning code; override what the test is about. */
export function testStage(overrides: Partial<ResolvedStage> = {}): ResolvedStage {
  return {
    name: "prod",
    configFile: "/cfg/cutover.yaml",
    source: "/src/app",
    exclude: [".git"],
    keepReleases: 3,
    strategy: "releases",
    buildLocal: [],
    keepBuilds: 3,
    sharedDirs: [],
    sharedFiles: [],
    writableDirs: [],
    sharedAccess: new Map(),
    hooks: {
      build: [],
      before_switch: [],
      after_switch: [],
      after_rollback: [],
      on_failure: [],
      before_batch: [],
      after_batch: [],
    },
    hosts: [{ name: "web1", path: "/d", roles: [] }],
    ssh: { connectTimeoutSeconds: 10, acceptNewHostKeys: false, persistSeconds: 0 },
    commandTimeoutSeconds: 60,
    uploadCompare: "mtime",
    php: {
      binary: "php",
      pools: [],
      warmup: [],
      forbidCurrentPaths: false,
      modPhp: false,
      verifyRequests: 8,
      resetWaitSeconds: 5,
    },
    rollbackOn: [],
    smoke: { commands: [], http: [] },
    notify: [],
    secrets: new SecretValues([]),
    snapshots: { beforeDeploy: false, keep: 5 },
    ...overrides,
  };
}
