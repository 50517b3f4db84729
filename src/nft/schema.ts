/**
 * zod schemas of the libnftables JSON format (man libnftables-json), limited to what nftbridge
 * emits plus what `nft -j list table` prints for its table. Unknown statements parse as opaque
 * records so a table that somebody else edited can still be read and reported as drift.
 */
import { z } from 'zod';

export type Expr =
  | string
  | number
  | boolean
  | Expr[]
  | { payload: { protocol: string; field: string } }
  | { meta: { key: string } }
  | { ct: { key: string; dir?: string; family?: string } }
  | { fib: { result: string; flags: string[] } }
  | { concat: Expr[] }
  | { prefix: { addr: string; len: number } }
  | { range: [Expr, Expr] }
  | { set: Expr[] | Expr }
  | { map: { key: Expr; data: Expr } }
  | { '&': [Expr, Expr] }
  | { '|': [Expr, Expr] }
  // Verdicts, as the data of a verdict map's elements.
  | { jump: { target: string } }
  | { goto: { target: string } }
  | { accept: null }
  | { drop: null };

const scalarSchema = z.union([z.string(), z.number(), z.boolean()]);
// Element keys of published-port maps: by far the most numerous expressions, checked first.
const concatOfScalars = z.strictObject({
  concat: z.array(
    z.union([
      scalarSchema,
      z.strictObject({ prefix: z.strictObject({ addr: z.string(), len: z.number().int() }) }),
      z.strictObject({ range: z.tuple([z.number(), z.number()]) }),
    ]),
  ),
});

export const exprSchema: z.ZodType<Expr> = z.lazy(() =>
  z.union([
    scalarSchema,
    concatOfScalars,
    z.array(exprSchema),
    z.strictObject({ payload: z.strictObject({ protocol: z.string(), field: z.string() }) }),
    z.strictObject({ meta: z.strictObject({ key: z.string() }) }),
    z.strictObject({ ct: z.strictObject({ key: z.string(), dir: z.string().optional(), family: z.string().optional() }) }),
    z.strictObject({ fib: z.strictObject({ result: z.string(), flags: z.array(z.string()) }) }),
    z.strictObject({ concat: z.array(exprSchema) }),
    z.strictObject({ prefix: z.strictObject({ addr: z.string(), len: z.number().int() }) }),
    z.strictObject({ range: z.tuple([exprSchema, exprSchema]) }),
    z.strictObject({ set: z.union([z.array(exprSchema), exprSchema]) }),
    z.strictObject({ map: z.strictObject({ key: exprSchema, data: exprSchema }) }),
    z.strictObject({ '&': z.tuple([exprSchema, exprSchema]) }),
    z.strictObject({ '|': z.tuple([exprSchema, exprSchema]) }),
    z.strictObject({ jump: z.strictObject({ target: z.string() }) }),
    z.strictObject({ goto: z.strictObject({ target: z.string() }) }),
    z.strictObject({ accept: z.null() }),
    z.strictObject({ drop: z.null() }),
  ]),
);

const matchOp = z.enum(['==', '!=', '<', '>', '<=', '>=', 'in']);

export const knownStatementSchema = z.union([
  z.strictObject({ match: z.strictObject({ op: matchOp, left: exprSchema, right: exprSchema }) }),
  z.strictObject({ accept: z.null() }),
  z.strictObject({ drop: z.null() }),
  z.strictObject({ return: z.null() }),
  z.strictObject({ jump: z.strictObject({ target: z.string() }) }),
  z.strictObject({ goto: z.strictObject({ target: z.string() }) }),
  z.strictObject({ counter: z.union([z.null(), z.strictObject({ packets: z.number(), bytes: z.number() })]) }),
  z.strictObject({ masquerade: z.union([z.null(), z.strictObject({ flags: z.array(z.string()).optional() })]) }),
  z.strictObject({
    dnat: z.strictObject({ family: z.enum(['ip', 'ip6']).optional(), addr: exprSchema, port: exprSchema.optional() }),
  }),
  z.strictObject({ mangle: z.strictObject({ key: exprSchema, value: exprSchema }) }),
  z.strictObject({ vmap: z.strictObject({ key: exprSchema, data: exprSchema }) }),
  z.strictObject({
    snat: z.strictObject({ family: z.enum(['ip', 'ip6']).optional(), addr: exprSchema, port: exprSchema.optional() }),
  }),
]);
export type KnownStatement = z.infer<typeof knownStatementSchema>;

/** Statements nftbridge never emits (someone else's edits) still parse, as opaque records. */
export const statementSchema = z.union([knownStatementSchema, z.record(z.string(), z.unknown())]);
export type Statement = z.infer<typeof statementSchema>;

export const familySchema = z.enum(['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev']);
export type Family = z.infer<typeof familySchema>;

export const tableSchema = z.object({ family: familySchema, name: z.string(), handle: z.number().optional() });
export const chainSchema = z.object({
  family: familySchema,
  table: z.string(),
  name: z.string(),
  handle: z.number().optional(),
  type: z.enum(['filter', 'nat', 'route']).optional(),
  hook: z.string().optional(),
  prio: z.number().optional(),
  policy: z.enum(['accept', 'drop']).optional(),
});
export const ruleSchema = z.object({
  family: familySchema,
  table: z.string(),
  chain: z.string(),
  handle: z.number().optional(),
  /** With `insert`: the rule goes before the one of this handle (at the top without it). */
  position: z.number().optional(),
  comment: z.string().optional(),
  expr: z.array(statementSchema),
});
const isScalar = (v: unknown): v is string | number => typeof v === 'string' || typeof v === 'number';
const isKeyPart = (v: unknown): boolean => {
  if (isScalar(v)) return true;
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length !== 1) return false;
  const p = o.prefix as Record<string, unknown> | undefined;
  if (p) return typeof p === 'object' && typeof p.addr === 'string' && Number.isInteger(p.len) && Object.keys(p).length === 2;
  const r = o.range;
  return Array.isArray(r) && r.length === 2 && r.every((x) => typeof x === 'number');
};
/**
 * The shape of nearly every element nftbridge emits, [key, data] with a scalar or concatenated
 * key, checked by a predicate: a rebuild with 10,000 published ports has 20,000 of them, and the
 * generic recursive union costs about 5 µs each.
 */
const isMapElement = (v: unknown): boolean => {
  if (!Array.isArray(v) || v.length !== 2 || !isScalar(v[1])) return false;
  const key: unknown = v[0];
  if (isScalar(key)) return true;
  if (typeof key !== 'object' || key === null || Object.keys(key).length !== 1) return false;
  const parts = (key as { concat?: unknown }).concat;
  return Array.isArray(parts) && parts.every(isKeyPart);
};

export const setElemSchema = z.union([
  z.custom<[Expr, Expr]>(isMapElement),
  z.tuple([z.union([concatOfScalars, scalarSchema]), scalarSchema]),
  scalarSchema,
  exprSchema,
  z.tuple([exprSchema, exprSchema]),
]);
export const setSchema = z.object({
  family: familySchema,
  table: z.string(),
  name: z.string(),
  handle: z.number().optional(),
  type: z.union([z.string(), z.array(z.string())]),
  map: z.string().optional(),
  flags: z.array(z.string()).optional(),
  elem: z.array(setElemSchema).optional(),
});
export const elementSchema = z.object({
  family: familySchema,
  table: z.string(),
  name: z.string(),
  elem: z.array(setElemSchema),
});

export type TableObj = z.infer<typeof tableSchema>;
export type ChainObj = z.infer<typeof chainSchema>;
export type RuleObj = z.infer<typeof ruleSchema>;
export type SetObj = z.infer<typeof setSchema>;
export type ElementObj = z.infer<typeof elementSchema>;

/** One object as a command's operand: exactly one key naming the kind. */
export const objectSchema = z.union([
  z.strictObject({ table: tableSchema }),
  z.strictObject({ chain: chainSchema }),
  z.strictObject({ rule: ruleSchema }),
  z.strictObject({ set: setSchema }),
  z.strictObject({ map: setSchema }),
  z.strictObject({ element: elementSchema }),
]);
export type NftObject = z.infer<typeof objectSchema>;

/** Flushing or deleting names an object; its type and contents are not repeated. */
const namedSchema = z.object({ family: familySchema, table: z.string(), name: z.string() });
/** A rule is deleted by its handle. */
const ruleRefSchema = z.object({ family: familySchema, table: z.string(), chain: z.string(), handle: z.number() });
export const flushObjectSchema = z.union([
  z.strictObject({ table: tableSchema }),
  z.strictObject({ chain: namedSchema }),
  z.strictObject({ set: namedSchema }),
  z.strictObject({ map: namedSchema }),
]);

export const commandSchema = z.union([
  z.strictObject({ add: objectSchema }),
  z.strictObject({ create: objectSchema }),
  z.strictObject({ flush: flushObjectSchema }),
  z.strictObject({ delete: z.union([objectSchema, z.strictObject({ rule: ruleRefSchema })]) }),
  z.strictObject({ insert: z.strictObject({ rule: ruleSchema }) }),
]);
export type NftCommand = z.infer<typeof commandSchema>;

/** A document nftbridge hands to `nft -j -f -`. */
export const documentSchema = z.strictObject({ nftables: z.array(commandSchema) });
export type NftDocument = z.infer<typeof documentSchema>;

/** What `nft -j list table` prints: metainfo first, then objects. */
export const listingSchema = z.object({
  nftables: z.array(
    z.union([
      z.strictObject({
        metainfo: z.object({ version: z.string(), release_name: z.string().optional(), json_schema_version: z.number() }),
      }),
      z.strictObject({ table: tableSchema }),
      z.strictObject({ chain: chainSchema }),
      z.strictObject({ rule: ruleSchema }),
      z.strictObject({ set: setSchema }),
      z.strictObject({ map: setSchema }),
      z.record(z.string(), z.unknown()), // flowtables, counters, quotas…: kept, not interpreted
    ]),
  ),
});
export type Listing = z.infer<typeof listingSchema>;
