/** Where the JSON Schema lives in the repository and in the installed package (no zod: --version needs it). */
export const SCHEMA_PATH = "schema/cutover.schema.json";
