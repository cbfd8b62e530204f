import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { resolveComponent } from "../../src/config/components.js";
import {
  commandLineUrl,
  credentialEnv,
  credentialRewrite,
  repositorySecrets,
  shownRepository,
} from "../../src/config/git-source.js";
import { parseConfigText } from "../../src/config/load.js";
import { resolveStage } from "../../src/config/resolve.js";
import { withCommitDetails } from "../../src/engine/git-source.js";
import { parseLsRemote, pickRef } from "../../src/git/resolve.js";
import { parseReleaseMeta } from "../../src/plan/release-meta.js";

const A = "a".repeat(40);
const B = "b".repeat(40);
const C = "c".repeat(40);

test("ls-remote: an annotated tag resolves to the commit it names; a name both a tag and a branch is refused", () => {
  const refs = parseLsRemote(
    [
      `${A}\tHEAD`,
      `${A}\trefs/heads/main`,
      `${B}\trefs/tags/main`,
      `${C}\trefs/tags/main^{}`,
      "junk line",
      "",
    ].join("\n"),
  );
  assert.throws(
    () => pickRef(refs, "main", "origin.git"),
    /ref "main" is both a branch and a tag of origin\.git/,
  );
  assert.deepEqual(pickRef(refs, "refs/tags/main"), { commit: C, refName: "refs/tags/main" });
  const onlyTag = new Map([...refs].filter(([name]) => name !== "refs/heads/main"));
  assert.deepEqual(pickRef(onlyTag, "main"), { commit: C, refName: "refs/tags/main" });
  const onlyBranch = new Map([...refs].filter(([name]) => !name.startsWith("refs/tags/")));
  assert.deepEqual(pickRef(onlyBranch, "main"), { commit: A, refName: "refs/heads/main" });
  assert.deepEqual(pickRef(refs, "HEAD"), { commit: A, refName: "HEAD" });
  assert.deepEqual(pickRef(refs, "refs/heads/main"), { commit: A, refName: "refs/heads/main" });
  assert.equal(pickRef(refs, "heads/main"), undefined);
  assert.equal(pickRef(refs, "other"), undefined);
});

test("repository URLs: credentials never shown, and listed as secrets", () => {
  const url = "https://deploy-bot:ghp_abcdefghijklmnop@git.example.test/org/app.git?token=qwertyuiop123";
  assert.equal(shownRepository(url), "https://git.example.test/org/app.git");
  assert.deepEqual(
    new Set(repositorySecrets(url)),
    new Set(["deploy-bot", "ghp_abcdefghijklmnop", "qwertyuiop123"].filter((s) => s.length >= 8)),
  );
  assert.equal(shownRepository("git@github.com:org/app.git"), "git@github.com:org/app.git");
  assert.equal(shownRepository("/srv/git/app.git"), "/srv/git/app.git");
  assert.deepEqual(repositorySecrets("/srv/git/app.git"), []);
});

test("commit details from a host are one-line text: control characters replaced, length capped", () => {
  const revision = { commit: A, dirty: false, ref: "refs/heads/main" };
  const out = withCommitDetails(
    revision,
    `Eve \u001b[31m<e@x>\u00002026-01-01T00:00:00Z\u0000${"s".repeat(500)}\n`,
  );
  assert.equal(out?.author, "Eve ?[31m<e@x>");
  assert.equal(out?.subject?.length, 200);
  assert.equal(out?.commit, A);
  // Output that is not three fields still leaves the commit recorded.
  assert.deepEqual(withCommitDetails(revision, ""), revision);
  assert.deepEqual(withCommitDetails(revision, "a\0b\0c\0d"), revision);
});

test("hostile revision metadata parses: wrong types dropped, the commit kept", () => {
  const meta = parseReleaseMeta(
    JSON.stringify({
      id: "20260101T000000Z",
      state: "live",
      revision: { commit: A, dirty: "yes", author: 5, subject: ["x"], ref: "refs/heads/\nmain", extra: 1 },
    }),
  );
  assert.deepEqual(meta?.revision, { commit: A, dirty: false, ref: "refs/heads/?main" });
  const none = parseReleaseMeta(JSON.stringify({ id: "x", state: "live", revision: { dirty: true } }));
  assert.equal(none?.revision, null);
});

test("config: a repository path is relative to the config file; URLs and scp-like addresses are kept; ref defaults to HEAD", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cutover-git-config-"));
  const stageOf = (yaml: string) => {
    const file = path.join(dir, "cutover.yaml");
    const text = `${yaml}\nstages: { p: { hosts: [{ path: /srv/app }] } }\n`;
    return resolveStage(parseConfigText(text, file), file, "p");
  };
  try {
    const local = path.resolve(dir, "../repos/app.git");
    assert.deepEqual(stageOf("strategy: git\nrepository: ../repos/app.git").git, {
      repository: local,
      shown: local,
      ref: "HEAD",
      path: undefined,
      submodules: false,
      submodulesAllowLocal: false,
    });
    for (const url of [
      "git@github.com:acme/app.git",
      "github.com:acme/app.git",
      "ssh://git@h:2222/x.git",
      "file:///srv/x.git",
    ])
      assert.equal(stageOf(`strategy: git\nrepository: "${url}"`).git?.repository, url);
    const sub = stageOf(
      "strategy: git\nrepository: /r.git\nref: v1\nrepository_path: app/\nsubmodules: true",
    ).git;
    assert.deepEqual([sub?.ref, sub?.path, sub?.submodules], ["v1", "app", true]);
    assert.throws(() => stageOf("repository_path: app"), /repository_path is only used with strategy: git/);
    assert.throws(
      () => stageOf("strategy: in-place\nbuild: { local: [make] }"),
      /build\.local is not supported with strategy: in-place/,
    );
    assert.throws(() => stageOf("strategy: git\nrepository: /r.git\nref: --upload-pack=x"), /no leading -/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("components with strategy: git need no local directory; each deploys its repository_path", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cutover-git-parts-"));
  const file = path.join(dir, "cutover.yaml");
  try {
    const config = parseConfigText(
      [
        "strategy: git",
        "repository: /srv/git/mono.git",
        "components:",
        "  api: { repository_path: services/api }",
        "  web: { repository_path: services/web, ref: stable }",
        "stages: { p: { hosts: [{ path: /srv/app }] } }",
      ].join("\n"),
      file,
    );
    const api = resolveComponent(config, file, "p", "api");
    const web = resolveComponent(config, file, "p", "web");
    assert.deepEqual(
      [api.git?.path, api.git?.ref, api.hosts[0]!.path],
      ["services/api", "HEAD", "/srv/app/api"],
    );
    assert.deepEqual(
      [web.git?.path, web.git?.ref, web.hosts[0]!.path],
      ["services/web", "stable", "/srv/app/web"],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("credentials reach git through the environment: an insteadOf rewrite after any GIT_CONFIG_* already set", () => {
  const url = "https://deploy-bot:ghp_abcdefghijklmnop@git.example.test/org/app.git";
  assert.deepEqual(credentialRewrite(url), {
    base: "https://deploy-bot:ghp_abcdefghijklmnop@git.example.test/",
    prefix: "https://git.example.test/",
    scope: "https://git.example.test/",
  });
  assert.equal(commandLineUrl(url), "https://git.example.test/org/app.git");
  // And no credential helper for that server: it would store the token (see git-credential-helper.test.ts).
  assert.deepEqual(credentialEnv(url, { GIT_CONFIG_COUNT: "2" }), {
    GIT_CONFIG_COUNT: "4",
    GIT_CONFIG_KEY_2: "url.https://deploy-bot:ghp_abcdefghijklmnop@git.example.test/.insteadOf",
    GIT_CONFIG_VALUE_2: "https://git.example.test/",
    GIT_CONFIG_KEY_3: "credential.https://git.example.test/.helper",
    GIT_CONFIG_VALUE_3: "",
  });
  const query = "https://git.example.test/app.git?token=qwertyuiop123";
  assert.deepEqual(credentialRewrite(query), {
    base: query,
    prefix: "https://git.example.test/app.git",
    scope: "https://git.example.test/",
  });
  // Nothing to hide: git gets the repository as written, and no extra environment.
  for (const plain of ["https://git.example.test/org/ü.git", "git@host:org/app.git", "/srv/repo.git"]) {
    assert.equal(credentialRewrite(plain), undefined);
    assert.equal(commandLineUrl(plain), plain);
    assert.deepEqual(credentialEnv(plain, {}), {});
  }
});
