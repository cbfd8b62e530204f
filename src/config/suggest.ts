import { type ZodTypeAny, z } from "zod";

export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The closest candidate within a distance that still reads as a typo, or undefined. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(word.toLowerCase(), name.toLowerCase());
    if (distance <= limit && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function unwrap(schema: ZodTypeAny): ZodTypeAny {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) return unwrap(schema.unwrap());
  if (schema instanceof z.ZodDefault) return unwrap(schema.removeDefault());
  if (schema instanceof z.ZodEffects) return unwrap(schema.innerType());
  return schema;
}

/** The keys an object at `path` inside `schema` accepts, to suggest one for an unknown key. */
export function keysAt(schema: ZodTypeAny, path: readonly (string | number)[]): string[] {
  let node = unwrap(schema);
  for (const segment of path) {
    if (node instanceof z.ZodObject) node = unwrap(node.shape[String(segment)] ?? z.never());
    else if (node instanceof z.ZodArray) node = unwrap(node.element);
    else if (node instanceof z.ZodRecord) node = unwrap(node.valueSchema);
    else return [];
    if (node instanceof z.ZodUnion) {
      const objectOption = (node.options as ZodTypeAny[]).map(unwrap).find((o) => o instanceof z.ZodObject);
      if (objectOption) node = objectOption;
    }
  }
  return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}
