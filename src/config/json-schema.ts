import { type ZodTypeAny, z } from "zod";

/** A JSON Schema (draft-07) node: plain data, written to schema/cutover.schema.json. */
export type JsonSchema = { [key: string]: unknown };

/**
 * `${VAR}` or `${VAR:-default}` (config/interpolate.ts): editors must not flag `port: ${SSH_PORT}`
 * (the loader turns the value into a number) or `path: ${DEPLOY_PATH}`, checked once it is filled in.
 */
const REFERENCE = "\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}";
export const ENV_REFERENCE = `^${REFERENCE}$`;

/**
 * The JSON Schema of what users write (the input side of the zod schema), generated from the zod
 * schema itself so the two cannot drift. Refinements that are functions (cross-field rules, digit
 * checks of numeric modes) have no JSON Schema form; cutover checks them when it loads the file.
 */
export function toJsonSchema(
  schema: ZodTypeAny,
  title: string,
  descriptions: Readonly<Record<string, string>>,
): JsonSchema {
  const describe = (at: string) =>
    descriptions[at] ?? descriptions[at.replace(/^(?:stages|components)\.\*\./, "")];
  return { $schema: "http://json-schema.org/draft-07/schema#", title, ...convert(schema, "", describe) };
}

/** Where a node is, for its description: `stages.*.hosts[].path`; stage and component settings share the top's. */
type Describe = (at: string) => string | undefined;

function convert(schema: ZodTypeAny, at: string, describe: Describe): JsonSchema {
  const node = convertType(schema, at, describe);
  const description = describe(at);
  return description ? { description, ...node } : node;
}

function convertType(schema: ZodTypeAny, at: string, describe: Describe): JsonSchema {
  const inner = (s: ZodTypeAny, path = at) => convertType(s, path, describe);
  if (schema instanceof z.ZodOptional) return inner(schema.unwrap());
  if (schema instanceof z.ZodEffects) return inner(schema.innerType());
  if (schema instanceof z.ZodObject) return object(schema, at, describe);
  if (schema instanceof z.ZodString) return string(schema);
  if (schema instanceof z.ZodNumber) return fromEnv(number(schema));
  if (schema instanceof z.ZodBoolean) return fromEnv({ type: "boolean" });
  if (schema instanceof z.ZodArray) {
    const min = (schema._def as { minLength?: { value: number } }).minLength?.value;
    return { type: "array", items: inner(schema.element, `${at}[]`), ...(min ? { minItems: min } : {}) };
  }
  if (schema instanceof z.ZodUnion) return { anyOf: (schema.options as ZodTypeAny[]).map((o) => inner(o)) };
  if (schema instanceof z.ZodDiscriminatedUnion)
    return { oneOf: (schema.options as ZodTypeAny[]).map((o) => inner(o)) };
  if (schema instanceof z.ZodEnum) return fromEnv({ type: "string", enum: [...schema.options] });
  if (schema instanceof z.ZodLiteral) return { const: schema.value };
  if (schema instanceof z.ZodRecord) {
    return {
      type: "object",
      propertyNames: inner(schema.keySchema, `${at}.*key`),
      additionalProperties: inner(schema.valueSchema, `${at}.*`),
    };
  }
  throw new Error(`toJsonSchema: no JSON Schema for ${schema.constructor.name}`);
}

function object(schema: z.AnyZodObject, at: string, describe: Describe): JsonSchema {
  const shape = schema.shape as Record<string, ZodTypeAny>;
  const required = Object.keys(shape).filter((key) => !shape[key]!.isOptional());
  const property = ([key, value]: [string, ZodTypeAny]) => [
    key,
    convert(value, at ? `${at}.${key}` : key, describe),
  ];
  return {
    type: "object",
    properties: Object.fromEntries(Object.entries(shape).map(property)),
    ...(required.length > 0 ? { required } : {}),
    ...(schema._def.unknownKeys === "strict" ? { additionalProperties: false } : {}),
  };
}

function string(schema: z.ZodString): JsonSchema {
  const node: JsonSchema = { type: "string" };
  const patterns: string[] = [];
  for (const check of schema._def.checks) {
    if (check.kind === "min") node.minLength = check.value;
    else if (check.kind === "regex") patterns.push(check.regex.source);
    else if (check.kind === "url") node.format = "uri";
    else throw new Error(`toJsonSchema: no JSON Schema for string check ${check.kind}`);
  }
  if (patterns.length === 1) node.pattern = patterns[0];
  if (patterns.length > 1) node.allOf = patterns.map((pattern) => ({ pattern }));
  return patterns.length > 0 || node.format
    ? { anyOf: [node, { type: "string", pattern: REFERENCE }] }
    : node;
}

function number(schema: z.ZodNumber): JsonSchema {
  const node: JsonSchema = { type: "number" };
  for (const check of schema._def.checks) {
    if (check.kind === "int") node.type = "integer";
    else if (check.kind === "min") node[check.inclusive ? "minimum" : "exclusiveMinimum"] = check.value;
    else if (check.kind === "max") node[check.inclusive ? "maximum" : "exclusiveMaximum"] = check.value;
    else throw new Error(`toJsonSchema: no JSON Schema for number check ${check.kind}`);
  }
  return node;
}

function fromEnv(node: JsonSchema): JsonSchema {
  return { anyOf: [node, { type: "string", pattern: ENV_REFERENCE }] };
}
