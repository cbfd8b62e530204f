import assert from "node:assert/strict";
import { test } from "node:test";
import { explainSsh } from "../../src/transport/ssh-args.js";

const addr = { host: "127.0.0.2", user: "deploy", port: 2222, options: [] };

test("ssh's own refusal of the login is a key problem; a command's 'Permission denied' on the host is not", () => {
  for (const refusal of [
    "deploy@127.0.0.2: Permission denied (publickey).",
    "deploy@127.0.0.2: Permission denied (publickey,password,keyboard-interactive).",
    "Permission denied, please try again.",
  ])
    assert.match(
      explainSsh(refusal, "web1", addr) ?? "",
      /^web1: deploy@127\.0\.0\.2:2222 refused our key/,
      refusal,
    );
  for (const other of [
    'rsync: [sender] opendir "/srv/app/current/var/cache" failed: Permission denied (13)',
    "mkdir: cannot create directory '/srv/app/releases': Permission denied",
    "sh: 1: cannot create /srv/app/.cutover/lock/owner.json: Permission denied",
  ])
    assert.equal(explainSsh(other, "web1", addr), undefined, other);
});
