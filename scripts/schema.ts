// Writes schema/cutover.schema.json from the zod schema (run by `npm run build`; a unit test fails
// when the committed file differs from what this writes).
import { writeFileSync } from "node:fs";
import { schemaFile, schemaText } from "../src/config/schema-file.js";

writeFileSync(schemaFile, schemaText());
