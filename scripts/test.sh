#!/usr/bin/env bash
# Runs the whole suite: typecheck, lint, build, then unit, integration and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.test.json --noEmit
npx biome check src test bench
npx tsc -p tsconfig.json
node --import tsx --test --test-reporter=spec test/unit/*.test.ts test/integration/*.test.ts ${CUTOVER_E2E:+test/e2e/*.test.ts}
