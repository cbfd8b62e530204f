import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { Ajv, type ErrorObject } from "ajv";
import { parse } from "yaml";
import { initTemplate } from "../../src/config/init.js";
import { parseConfigText } from "../../src/config/load.js";
import { KEY_DOCS } from "../../src/config/schema-docs.js";
import { SCHEMA_PATH, schemaText } from "../../src/config/schema-file.js";
import { CutoverError } from "../../src/errors.js";
import { ROOT } from "../helpers/cli.js";

const schema = JSON.parse(readFileSync(path.join(ROOT, SCHEMA_PATH), "utf8"));
// zod's url() accepts what the URL constructor parses; the schema's "uri" format means the same here.
const ajv = new Ajv({ allErrors: true, strict: true, formats: { uri: (s: string) => URL.canParse(s) } });
const validate = ajv.compile(schema);

/** Every key path an error of the JSON Schema names, written as the loader writes them. */
function schemaErrorPaths(data: unknown): string[] {
  assert.equal(validate(data), false, "the JSON Schema should reject this");
  return (validate.errors ?? []).map((e: ErrorObject) => {
    const segments = e.instancePath.split("/").slice(1);
    if (e.keyword === "additionalProperties") segments.push(String(e.params.additionalProperty));
    return segments.reduce((text, s) => (/^\d+$/.test(s) ? `${text}[${s}]` : text ? `${text}.${s}` : s), "");
  });
}

function loaderError(text: string): string {
  try {
    parseConfigText(text, "cutover.yaml");
  } catch (error) {
    assert.ok(error instanceof CutoverError);
    return error.message;
  }
  assert.fail(`the loader should reject:\n${text}`);
}

/** What the examples' `${VAR}` references need (CI recipes take them from the CI's secrets). */
const EXAMPLE_ENV = {
  GITHUB_TOKEN: "t",
  DEPLOY_HOST: "web1.example.com",
  DEPLOY_SSH_DIR: "/tmp/k",
  WEBHOOK_SECRET: "w",
};

/** Every valid config the user can read: examples/, the README's blocks, what `init` writes. */
function validExamples(): [string, string][] {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
  // A block that shows some sections only gets a stage to make it a whole file.
  const found: [string, string][] = blocks.map((block, i) => [
    `README.md, yaml block ${i + 1}`,
    /^stages:/m.test(block) ? block : `${block}\nstages: { p: { hosts: [{ path: /srv/app }] } }\n`,
  ]);
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/^cutover\.ya?ml$/.test(entry.name))
        found.push([path.relative(ROOT, full), readFileSync(full, "utf8")]);
    }
  };
  walk(path.join(ROOT, "examples"));
  found.push(["init (plain PHP)", initTemplate(ROOT, "/var/www/app", SCHEMA_PATH).text]);
  return found;
}

test("the committed JSON Schema is the one generated from the zod schema (`npm run schema` writes it)", () => {
  assert.equal(readFileSync(path.join(ROOT, SCHEMA_PATH), "utf8"), schemaText());
});

test("every key description lands in the schema (a renamed key leaves none behind)", () => {
  const text = JSON.stringify(schema);
  for (const [key, description] of Object.entries(KEY_DOCS))
    assert.ok(text.includes(JSON.stringify(description)), `${key}: its description is in the schema`);
  assert.equal(schema.properties.keep_releases.description, KEY_DOCS.keep_releases);
  const stage = schema.properties.stages.additionalProperties;
  assert.equal(stage.properties.keep_releases.description, KEY_DOCS.keep_releases, "stage settings too");
});

test("every example config in README.md and examples/ is valid for the JSON Schema and the loader", () => {
  const examples = validExamples();
  assert.ok(examples.length >= 3, "README, examples/ and init configs were found");
  for (const [name, text] of examples) {
    parseConfigText(text, name, EXAMPLE_ENV);
    const data = parse(text);
    assert.equal(validate(data), true, `${name}: ${ajv.errorsText(validate.errors)}`);
  }
});

test("README's \"common mistakes\" are rejected by the JSON Schema at the key path of the loader's error", () => {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const table = readme.split("| you wrote | cutover says |")[1]!.split("\n\n")[0]!;
  const rows = table
    .split("\n")
    .slice(2)
    .map((line) =>
      line.split(" | ").map((cell) => cell.replace(/^\| |^`|`$| \|$/g, "").replace(/^`|`$/g, "")),
    );
  assert.ok(rows.length >= 5, "the README documents the common mistakes");
  for (const [wrote, says] of rows) {
    const text = `${wrote}\n${wrote!.startsWith("stages:") ? "" : "stages: { prod: { hosts: [{ path: /srv/app }] } }\n"}`;
    const message = loaderError(text).replace(/^cutover\.yaml:\d+: /, "");
    assert.equal(message, says, `README documents what cutover says for ${wrote}`);
    const keyPath = message.split(": ")[0]!;
    assert.ok(
      schemaErrorPaths(parse(text)).includes(keyPath),
      `the JSON Schema names ${keyPath} for ${wrote}: ${ajv.errorsText(validate.errors)}`,
    );
  }
});

test("numbers and booleans may be ${VAR} references in the JSON Schema, other strings may not", () => {
  const ok = parse(
    "keep_releases: ${KEEP:-5}\nstages:\n  p:\n    hosts:\n      - path: /a\n        port: ${PORT}\n",
  );
  assert.equal(validate(ok), true, ajv.errorsText(validate.errors));
  const paths = schemaErrorPaths(parse("keep_releases: five\nstages: { p: { hosts: [{ path: /a }] } }"));
  assert.ok(paths.length > 0 && paths.every((p) => p === "keep_releases"), paths.join(", "));
});
