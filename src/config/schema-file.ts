import path from "node:path";
import { fileURLToPath } from "node:url";
import { toJsonSchema } from "./json-schema.js";
import { configSchema } from "./schema.js";
import { KEY_DOCS } from "./schema-docs.js";
import { SCHEMA_PATH } from "./schema-path.js";

export { SCHEMA_PATH };

export const schemaFile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..", SCHEMA_PATH);

export function schemaText(): string {
  return `${JSON.stringify(toJsonSchema(configSchema, "cutover.yaml", KEY_DOCS), null, 2)}\n`;
}
