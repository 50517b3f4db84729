import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { featuresOf } from '../../../src/nft/features.js';
import { documentSchema, listingSchema } from '../../../src/nft/schema.js';
import { serialize } from '../../../src/nft/client.js';
import { SchemaError } from '../../../src/errors.js';

const dir = new URL('../../fixtures/nft/', import.meta.url);
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('libnftables JSON schemas', () => {
  it.each(fixtures)('parse real nft -j output: %s', (file) => {
    const json = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as { nftables: unknown[] };
    const parsed = listingSchema.parse(json);
    expect(parsed.nftables.length).toBe(json.nftables.length);
    expect(parsed.nftables[0]).toHaveProperty('metainfo');
  });

  it('keep statements nftbridge never emits as opaque records (a tampered table still parses)', () => {
    const json = listingSchema.parse(JSON.parse(readFileSync(new URL('list-tampered.json', dir), 'utf8')));
    const rules = json.nftables.flatMap((o) => ('rule' in o && o.rule && typeof o.rule === 'object' ? [o.rule] : []));
    expect(JSON.stringify(rules)).toContain('"log"');
  });

  it('parse the generated seed ruleset as a document', () => {
    const doc = JSON.parse(readFileSync(new URL('../../../rulesets/seed.json', import.meta.url), 'utf8')) as unknown;
    expect(documentSchema.parse(doc)).toEqual(doc);
  });

  it('reject malformed documents before they reach nft', () => {
    expect(() => serialize({ nftables: [{ add: { table: { family: 'inet6' as 'inet', name: 'x' } } }] })).toThrow(SchemaError);
    expect(
      documentSchema.safeParse({
        nftables: [{ add: { rule: { family: 'inet', table: 't', chain: 'c', expr: [{ match: { op: '=~', left: 1, right: 2 } }] } } }],
      }).success,
    ).toBe(true); // unknown statement shapes are opaque
    expect(documentSchema.safeParse({ nftables: [{ replace: {} }] }).success).toBe(false);
    const element = (elem: unknown[]) => ({ nftables: [{ add: { element: { family: 'inet', table: 't', name: 'm', elem } } }] });
    expect(documentSchema.safeParse(element([[{ concat: ['tcp', 80] }, '10.0.0.2']])).success).toBe(true);
    expect(documentSchema.safeParse(element([[{ concat: ['tcp', 80] }, null]])).success).toBe(false);
    expect(documentSchema.safeParse(element([[{ concat: ['tcp', { rnage: [1, 2] }] }, 80]])).success).toBe(false);
    expect(documentSchema.safeParse(element([[{ concat: [{ prefix: { addr: '0.0.0.0' } }, 'tcp', 80] }, 80]])).success).toBe(false);
    expect(documentSchema.safeParse({ nftables: [{ add: { chain: { family: 'inet', table: 't' } } }] }).success).toBe(false);
  });
});

describe('nft features, by version', () => {
  it('uses the nft -i session only where its marker text is verified (the 1.0 series)', () => {
    expect(featuresOf('nftables v1.0.6 (Lester Gooch #5)')).toEqual({ version: '1.0.6', session: true });
    expect(featuresOf('nftables v1.1.3 (Commodore Bullmoose #4)')).toEqual({ version: '1.1.3', session: false });
    expect(featuresOf('')).toEqual({ version: 'unknown', session: false });
  });
});
