/** Drift of the tables: what nftbridge would write against what nft lists back (fixtures captured from real nft). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { seedState } from '../../../src/demo/seed.js';
import { renderRuleset } from '../../../src/firewall/render.js';
import { listingSchema } from '../../../src/nft/schema.js';
import { withoutContainers } from '../../../src/reconcile/converge.js';
import { diffTables, elementRepair, shapeOfDocument, shapeOfListing } from '../../../src/reconcile/drift.js';
import { dualStackState } from '../../helpers/states.js';

const fixture = (name: string) =>
  listingSchema.parse(JSON.parse(readFileSync(new URL(`../../fixtures/nft/${name}`, import.meta.url), 'utf8')));

describe('table drift', () => {
  it('matches what real nft lists back for the same document (no drift)', () => {
    expect(diffTables(shapeOfDocument(renderRuleset(seedState())), shapeOfListing(fixture('list-seed.json')))).toEqual([]);
    expect(diffTables(shapeOfDocument(renderRuleset(dualStackState())), shapeOfListing(fixture('list-dualstack.json')))).toEqual([]);
  });

  it('reports a rule somebody added as drift', () => {
    const drift = diffTables(shapeOfDocument(renderRuleset(dualStackState())), shapeOfListing(fixture('list-tampered.json')));
    expect(drift).toEqual([{ kind: 'chain', subject: 'forward', reason: expect.stringMatching(/rules differ/) as unknown as string }]);
    expect(diffTables(shapeOfDocument(renderRuleset(dualStackState())), null)).toEqual([
      { kind: 'table', subject: 'nftbridge', reason: 'table is missing' },
    ]);
  });

  it('repairs element-only differences with element changes, and only those', () => {
    const full = dualStackState();
    const listed = shapeOfListing(fixture('list-dualstack.json'));
    // c1 went away: its ports' elements are extra in the kernel; nothing structural differs.
    const repair = elementRepair(shapeOfDocument(renderRuleset(withoutContainers(full, new Set(['c1'])))), listed);
    expect(repair?.every((r) => r.add.length === 0 && r.del.length > 0)).toBe(true);
    expect(repair?.map((r) => r.set).sort()).toEqual([
      'pub4_ip_addr',
      'pub4_ip_port',
      'pub4_range_addr',
      'pub4_range_port',
      'pub4_tcp_addr',
      'pub4_tcp_port',
      'pub6_ip_addr',
      'pub6_ip_port',
      'pub6_range_addr',
      'pub6_range_port',
      'pub6_tcp_addr',
      'pub6_tcp_port',
      'spoof_ports',
      'spoof_src4',
      'spoof_src6',
    ]);
    // A foreign rule is structural: no element-only repair.
    expect(elementRepair(shapeOfDocument(renderRuleset(full)), shapeOfListing(fixture('list-tampered.json')))).toBeUndefined();
    expect(elementRepair(shapeOfDocument(renderRuleset(full)), null)).toBeUndefined();
  });
});
