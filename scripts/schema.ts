// Writes schema/cutover.schema.json from the zod schema: `npm run schema` after changing
// src/config/schema.ts (prepack runs it too). A unit test fails while the file differs.
import { writeFileSync } from "node:fs";
import { schemaFile, schemaText } from "../src/config/schema-file.js";

writeFileSync(schemaFile, schemaText());
