import { describe, expect, it } from 'vitest';
import { networkDelta } from '../../../src/firewall/network-rules.js';
import { renderRuleset } from '../../../src/firewall/render.js';
import { allocateMark, DEFAULT_MARK_MASK } from '../../../src/hostfw/marks.js';
import { FakeNft } from '../../../src/nft/fake.js';
import { listingSchema, type NftDocument } from '../../../src/nft/schema.js';
import { diffTables, shapeOfDocument, shapeOfListing } from '../../../src/reconcile/drift.js';
import { planNetwork } from '../../../src/topology/plan.js';
import { emptyState, type State } from '../../../src/topology/state.js';
import { dualStackState } from '../../helpers/states.js';

/**
 * `count` more networks on `state`, dual-stack every third, internal every fourth, ICC off every
 * fifth, each with its mark as createNetwork gives it.
 */
function withNetworks(state: State, count: number, from = 0): State {
  const s = { ...state, networks: [...state.networks] };
  for (let i = from; i < from + count; i++) {
    const net = planNetwork(s, {
      name: `n${i}`,
      subnet:
        i % 3 === 0 ? [`10.${100 + (i >> 8)}.${i & 255}.0/24`, `fd00:${i.toString(16)}::/64`] : `10.${100 + (i >> 8)}.${i & 255}.0/24`,
      internal: i % 4 === 1,
      icc: i % 5 !== 2,
    });
    s.networks.push({ ...net, mark: allocateMark(s, DEFAULT_MARK_MASK) });
  }
  return s;
}

const without = (state: State, name: string): State => ({ ...state, networks: state.networks.filter((n) => n.name !== name) });

/** Applies `delta` to a fake nft holding `before`'s table, and compares the result with `after`'s whole rendering. */
function driftAfterDelta(before: State, after: State, mask: number | null = DEFAULT_MARK_MASK) {
  const nft = new FakeNft();
  nft.apply(renderRuleset(before, { markMask: mask }));
  nft.apply(networkDelta(before, after, mask));
  const listing = listingSchema.parse({
    nftables: [...(nft.list('inet', 'nftbridge')?.nftables ?? []), ...(nft.list('bridge', 'nftbridge')?.nftables.slice(2) ?? [])],
  });
  return diffTables(shapeOfDocument(renderRuleset(after, { markMask: mask })), shapeOfListing(listing));
}

const rulesOf = (doc: NftDocument) => doc.nftables.filter((c) => 'add' in c && 'rule' in c.add);

describe('network rules: what a network adds to the table', () => {
  it('a network created or removed is the same small document with 1 network or 60 (no rule of the base chains changes)', () => {
    const small = withNetworks(emptyState(), 1);
    const large = withNetworks(emptyState(), 60);
    const add = (s: State) => networkDelta(s, withNetworks(s, 1, 500), DEFAULT_MARK_MASK);
    const rm = (s: State) => networkDelta(withNetworks(s, 1, 500), s, DEFAULT_MARK_MASK);
    // The same commands; only the new network's mark number differs.
    expect(add(large).nftables.length).toBe(add(small).nftables.length);
    expect(Math.abs(JSON.stringify(add(large)).length - JSON.stringify(add(small)).length)).toBeLessThan(8);
    expect(rm(large).nftables.length).toBe(rm(small).nftables.length);
    // Small enough for the long-lived nft session (nft/client.ts SESSION_MAX).
    expect(JSON.stringify(add(large)).length).toBeLessThan(4096);
    // Nothing but the new network's own chains gets a rule.
    const chains = new Set(rulesOf(add(large)).map((c) => ('add' in c && 'rule' in c.add ? c.add.rule.chain : '')));
    expect([...chains].sort()).toEqual(['mark_nb-n500', 'post_nb-n500']);
  });

  it('the base chains are the same whatever the networks', () => {
    const base = (s: State) =>
      rulesOf(renderRuleset(s)).filter((c) => 'add' in c && 'rule' in c.add && !/^(post|mark)_nb-/.test(c.add.rule.chain));
    expect(base(withNetworks(emptyState(), 40))).toEqual(base(withNetworks(emptyState(), 1)));
  });

  it('applied to the table of the state before, gives exactly the table of the state after', () => {
    const s = withNetworks(dualStackState(), 12);
    // Created: plain, dual-stack, internal, ICC off.
    for (let i = 20; i < 26; i++) expect(driftAfterDelta(s, withNetworks(s, 1, i))).toEqual([]);
    // Removed, each kind.
    for (const name of ['n0', 'n1', 'n2', 'n3', 'a', 'b']) expect(driftAfterDelta(s, without(s, name))).toEqual([]);
    // Several at once, and without marks (--host-firewall off).
    expect(driftAfterDelta(s, withNetworks(without(without(s, 'n4'), 'n5'), 3, 30))).toEqual([]);
    expect(driftAfterDelta(s, withNetworks(s, 2, 40), null)).toEqual([]);
    expect(driftAfterDelta(s, without(s, 'n6'), null)).toEqual([]);
  });

  it('networks of an older state, without a stored mark, that get another number are replaced too', () => {
    const s = withNetworks(emptyState(), 4);
    const legacy = { ...s, networks: s.networks.map(({ mark: _, ...n }) => n) };
    expect(driftAfterDelta(legacy, without(legacy, 'n0'))).toEqual([]);
  });

  it('a network that changed (ICC, its mark) is replaced: its chains stay, their rules are not doubled', () => {
    const s = withNetworks(emptyState(), 3);
    const net = s.networks[0];
    if (!net) throw new Error('no network');
    const toggled = { ...s, networks: [{ ...net, icc: !net.icc, mark: 77 }, ...s.networks.slice(1)] };
    expect(driftAfterDelta(s, toggled)).toEqual([]);
    expect(driftAfterDelta(toggled, s)).toEqual([]);
  });

  it('nothing changed, nothing to apply', () => {
    const s = withNetworks(emptyState(), 5);
    expect(networkDelta(s, { ...s }, DEFAULT_MARK_MASK).nftables).toEqual([]);
  });

  it('a table not as expected fails the delta as a whole (the caller rebuilds)', () => {
    const s = withNetworks(emptyState(), 3);
    const nft = new FakeNft();
    nft.apply(renderRuleset(s));
    nft.deleteElement('inet', 'nftbridge', 'bridges', 'nb-n2');
    expect(() => nft.apply(networkDelta(s, without(s, 'n2'), DEFAULT_MARK_MASK))).toThrow(/No such file/);
    // Nothing of it was applied: the chains of n2 are still there.
    expect(JSON.stringify(nft.list('inet', 'nftbridge'))).toContain('post_nb-n2');
  });
});
