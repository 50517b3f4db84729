/** A document validated against the zod schemas and serialized: what reaches nft is what passed. */
import { SchemaError } from '../errors.js';
import { documentSchema, type NftDocument } from './schema.js';

export function serialize(doc: NftDocument): string {
  const parsed = documentSchema.safeParse(doc);
  if (!parsed.success) throw new SchemaError('nftables document', parsed.error.issues);
  return JSON.stringify(parsed.data);
}
