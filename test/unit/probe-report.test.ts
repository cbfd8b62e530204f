import assert from "node:assert/strict";
import { test } from "node:test";
import { nginxConfig, nginxEscape } from "../../src/integrations/web/server-config.js";
import type { Sample } from "../../src/probe/probe.js";
import { judge } from "../../src/probe/report.js";

const s = (
  sentAt: number,
  doneAt: number,
  releases: string[],
  status: number | null = 200,
  error: Sample["error"] = null,
): Sample => ({
  sentAt,
  doneAt,
  status,
  error,
  releases,
});

test("probe verdicts: failures by kind, mixed, stale after the switch and its length", () => {
  const r = judge(
    [
      s(0, 10, ["A"]),
      s(5, 20, ["A", "B"]),
      s(101, 130, ["A"]),
      s(102, 160, ["B"]),
      s(103, 150, [], 502),
      s(104, 150, [], null, "reset"),
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
});

test("nginx config quotes paths with spaces and quotes, and never lets a $ in a path become a variable", () => {
  const text = nginxConfig({
    deployPath: '/srv/my "app" $X',
    webroot: "public",
    listen: "80",
    serverName: "_",
    fpm: "/run/php/fpm.sock",
  });
  assert.match(text, /geo \$cutover_dollar \{ default "\$"; \}/);
  assert.ok(text.includes(`root "${nginxEscape('/srv/my "app" $X/current/public')}";`));
  assert.match(text, /fastcgi_param SCRIPT_FILENAME \$realpath_root\$fastcgi_script_name;/);
  assert.match(text, /fastcgi_pass unix:\/run\/php\/fpm\.sock;/);
});
