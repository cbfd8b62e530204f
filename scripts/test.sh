#!/usr/bin/env bash
# The whole suite on a fresh Debian 12 machine as root: set up, typecheck, lint, then unit,
# integration and end-to-end tests (real rsync, sshd, nginx, php-fpm started by the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p tsconfig.test.json --noEmit
npx biome check src test bench
shopt -s nullglob
node --import tsx --test --test-reporter=spec test/unit/*.test.ts test/integration/*.test.ts test/e2e/*.test.ts
