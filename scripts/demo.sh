#!/usr/bin/env bash
# The main job: set up, then deploy the bundled example PHP app twice to a local target
# (/tmp/cutover-example, or $CUTOVER_DEMO_PATH) and show the releases.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh"
target="${CUTOVER_DEMO_PATH:-/tmp/cutover-example}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"   # mktemp makes it 0700, and a release gets its source directory's mode
cp -r "$root/examples/php-app/." "$work/"
sed -i "s#/tmp/cutover-example#${target}#" "$work/cutover.yaml"
cutover() { node "$root/bin/cutover.js" "$@"; }
cd "$work"
echo "== deploy 1 of the example app to $target"
cutover deploy
echo "second edit" > storage/uploads/not-shipped.txt   # shared data is never overwritten by a deploy
sed -i 's/example/example (v2)/' .env                   # nor is a shared .env that already exists
echo "== deploy 2"
cutover deploy
echo "== cutover releases"
cutover releases
echo "== current -> $(readlink "$target/current")"
php "$target/current/public/index.php"
