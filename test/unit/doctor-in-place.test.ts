import assert from "node:assert/strict";
import { test } from "node:test";
import type { PhpPool } from "../../src/config/resolve.js";
import { inPlacePoolFindings } from "../../src/engine/doctor-in-place.js";

const pool = (reset: PhpPool["reset"]): PhpPool => ({ address: "/run/php.sock", reset });
const findings = (reset: PhpPool["reset"], ini: Record<string, string>) => {
  const out: string[] = [];
  inPlacePoolFindings(pool(reset), ini, (level, check, message) => out.push(`${level} ${check}: ${message}`));
  return out;
};

test("in place without a reset: validate_timestamps=0 never serves the upload, revalidate_freq > 0 mixes for that long", () => {
  assert.match(
    findings("none", { "opcache.validate_timestamps": "0" })[0]!,
    /^error opcache: .*never served/,
  );
  assert.match(
    findings("none", { "opcache.validate_timestamps": "1", "opcache.revalidate_freq": "2" })[0]!,
    /^warning opcache: .*revalidate_freq=2 .*up to 2 s/,
  );
  assert.deepEqual(
    findings("none", { "opcache.validate_timestamps": "1", "opcache.revalidate_freq": "0" }),
    [],
  );
  assert.deepEqual(
    findings("opcache", { "opcache.validate_timestamps": "0", "opcache.revalidate_freq": "2" }),
    [],
  );
});
