import assert from "node:assert/strict";
import { test } from "node:test";
import { nginxConfig, nginxEscape } from "../../src/integrations/web/server-config.js";
import type { Sample } from "../../src/probe/probe.js";
import { judge, probeText } from "../../src/probe/report.js";

const s = (
  sentAt: number,
  doneAt: number,
  releases: string[],
  status: number | null = 200,
  error: Sample["error"] = null,
  detail?: string,
): Sample => ({
  sentAt,
  doneAt,
  status,
  error,
  releases,
  ...(detail === undefined ? {} : { detail }),
});

test("probe verdicts: failures by kind, mixed, stale after the switch and its length", () => {
  const r = judge(
    [
      s(0, 10, ["A"]),
      s(5, 20, ["A", "B"]),
      s(101, 130, ["A"]),
      s(102, 160, ["B"]),
      s(103, 150, [], 502, null, "502 Bad Gateway nginx"),
      s(104, 150, [], null, "reset", "socket hang up"),
    ],
    "B",
    90,
    100,
  );
  assert.equal(r.requests, 6);
  assert.deepEqual(r.failures, { status: 1, reset: 1, timeout: 0, refused: 0, other: 0 });
  assert.equal(r.mixed, 1);
  assert.equal(r.stale, 1);
  assert.equal(r.staleMs, 30);
  assert.equal(r.firstFailure, "HTTP 502 sent 3 ms after the switch ended: 502 Bad Gateway nginx");
  assert.match(probeText(r), /^probe first failure: HTTP 502 sent 3 ms after/m);
  assert.equal(judge([s(0, 10, ["A"])], "A", 5, 6).firstFailure, undefined);
  assert.deepEqual([r.identified, r.unidentified], [4, 0]);
});

test("probe: mixed and stale are not measured (null, never 0) unless enough answers name a release", () => {
  const anonymous = Array.from({ length: 20 }, (_, i) => s(i * 10, i * 10 + 5, []));
  const none = judge(anonymous, "B", 90, 100);
  assert.deepEqual([none.mixed, none.stale, none.staleMs], [null, null, null]);
  assert.deepEqual([none.identified, none.unidentified], [0, 20]);
  assert.match(probeText(none), /mixed and stale not measured; 0 of 20 answers named a release/);
  assert.match(probeText(none), /X-Cutover-Release header/);
  assert.doesNotMatch(probeText(none), /0 stale/);
  // One stale answer among many anonymous ones: still not enough to judge the rest.
  const few = judge([...anonymous, s(101, 120, ["A"])], "B", 90, 100);
  assert.equal(few.stale, null);
  // Identified only before the switch: nothing says what answered after it.
  const before = judge([s(0, 10, ["A"]), s(20, 30, ["A"]), s(101, 120, [], 502)], "B", 90, 100);
  assert.equal(before.stale, null);
  // Failed requests do not count against identification.
  const named = judge([s(0, 10, ["A"]), s(101, 120, ["B"]), s(102, 130, [], 502)], "B", 90, 100);
  assert.deepEqual([named.mixed, named.stale, named.staleMs], [0, 0, 0]);
  assert.match(
    probeText(named),
    /0 mixed, 0 stale \(longest 0 ms after the switch\); 2 of 2 answers named a release/,
  );
});

test("nginx config quotes paths with spaces and quotes, and never lets a $ in a path become a variable", () => {
  const text = nginxConfig(
    { deployPath: '/srv/my "app" $X', webroot: "public", listen: "80", serverName: "_" },
    "/run/php/fpm.sock",
  );
  assert.match(text, /geo \$cutover_dollar \{ default "\$"; \}/);
  assert.ok(text.includes(`root "${nginxEscape('/srv/my "app" $X/current/public')}";`));
  assert.match(text, /set \$cutover_root \$realpath_root;/);
  assert.match(text, /fastcgi_param SCRIPT_FILENAME \$cutover_root\$fastcgi_script_name;/);
  assert.match(text, /fastcgi_param DOCUMENT_ROOT \$cutover_root;/);
  assert.match(text, /fastcgi_pass unix:\/run\/php\/fpm\.sock;/);
});
