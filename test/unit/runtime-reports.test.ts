import assert from "node:assert/strict";
import { test } from "node:test";
import { parseReports } from "../../src/integrations/php/runtime-script.js";

/**
 * What a pool answers is read from whatever listens on php.fpm's address: a line that starts like
 * JSON but is not, or JSON that is no object, is no report. It must not end cutover (doctor, or a
 * deploy's reset after the switch) with a SyntaxError and a stack trace.
 */
test("pool answers that are not reports are skipped, never thrown", () => {
  const good = JSON.stringify({
    pid: 7,
    sapi: "fpm-fcgi",
    serving: "/srv/app/releases/x",
    ini: {},
    opcache: null,
  });
  const reports = parseReports(`{not json at all\n{"truncated": \n${good}\n{}garbage\n[1,2]\n{"a":1}x\n`);
  assert.deepEqual(
    reports.map((r) => r.pid),
    [7],
  );
});
