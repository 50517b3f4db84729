/** Endpoints looked up by network and container through an index kept with their list. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  endpointIndex,
  endpointOf,
  endpointsOf,
  endpointsOn,
  endpointsWith,
  endpointsWithout,
} from '../../../src/topology/endpoint-index.js';
import { planEndpoint, planNetwork } from '../../../src/topology/plan.js';
import { emptyState, type Endpoint, type State } from '../../../src/topology/state.js';

function hostWith(count: number): State {
  const s = emptyState();
  s.networks.push(planNetwork(s, { name: 'a', subnet: '10.70.0.0/16' }), planNetwork(s, { name: 'b', subnet: '10.71.0.0/16' }));
  for (let i = 0; i < count; i++) s.endpoints.push(planEndpoint(s, i % 2 ? 'b' : 'a', `c${i % 7}x${i}`, {}, `vethi${i}`));
  return s;
}

describe('endpoint index', () => {
  it('answers as a search of the list does', () => {
    const s = hostWith(40);
    for (const ep of s.endpoints) expect(endpointOf(s.endpoints, ep.network, ep.container)).toBe(ep);
    expect(endpointOf(s.endpoints, 'a', 'nobody')).toBeUndefined();
    expect(endpointOf(s.endpoints, 'nonet', 'c0x0')).toBeUndefined();
    expect([...endpointsOn(s.endpoints, 'b').values()]).toEqual(s.endpoints.filter((e) => e.network === 'b'));
    expect(endpointsOn(s.endpoints, 'nonet').size).toBe(0);
    expect(endpointsOf(s.endpoints, 'c3x3')).toEqual(s.endpoints.filter((e) => e.container === 'c3x3'));
    expect(endpointsOf(s.endpoints, 'nobody')).toEqual([]);
    expect([...endpointIndex(s.endpoints).hostIfnames].sort()).toEqual(s.endpoints.map((e) => e.hostIfname).sort());
  });

  it('is kept per list: the same list is not indexed twice, a list pushed to in place is indexed again', () => {
    const s = hostWith(10);
    const first = endpointIndex(s.endpoints);
    expect(endpointIndex(s.endpoints)).toBe(first);
    const added = planEndpoint(s, 'a', 'late', {}, 'vethlate');
    s.endpoints.push(added);
    expect(endpointOf(s.endpoints, 'a', 'late')).toBe(added);
    expect(endpointIndex(s.endpoints)).not.toBe(first);
  });

  it('finds the first of two endpoints a hand-written state gives one pair, as a search does', () => {
    const s = hostWith(2);
    const [one] = s.endpoints;
    if (!one) throw new Error('no endpoint');
    const twin: Endpoint = { ...one, hostIfname: 'vethtwin' };
    const list = [one, twin];
    expect(endpointOf(list, one.network, one.container)).toBe(one);
    expect(endpointsOf(list, one.container)).toEqual([one, twin]);
  });

  it('moves its index along a connect and a disconnect, and the moved index says what a fresh one says', () => {
    const plain = (list: readonly Endpoint[]) => {
      const i = endpointIndex([...list]);
      return { byNetwork: i.byNetwork, byContainer: i.byContainer, hostIfnames: i.hostIfnames, size: i.size };
    };
    const s = hostWith(6);
    const pool: Endpoint[] = [...s.endpoints];
    for (let i = 0; i < 6; i++) pool.push(planEndpoint(s, i % 2 ? 'a' : 'b', `c${i % 3}x${i}`, {}, `vethp${i}`));
    // Hand-written states may name a pair or a host interface twice.
    pool.push({ ...(pool[0] as Endpoint), hostIfname: 'vethtwin' }, { ...(pool[1] as Endpoint), container: 'other' });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(pool.length - 1)), { maxLength: 30 }), (moves) => {
        let list: Endpoint[] = [];
        endpointIndex(list);
        for (const [add, k] of moves) {
          const ep = pool[k] as Endpoint;
          if (add) list = endpointsWith(list, ep);
          else if (list.includes(ep)) list = endpointsWithout(list, ep);
          expect({ ...endpointIndex(list) }).toEqual(plain(list));
        }
      }),
    );
  });

  it('a moved index is made without a walk of the list (it is the one endpointIndex returns)', () => {
    const s = hostWith(20);
    endpointIndex(s.endpoints);
    const extra = planEndpoint(s, 'a', 'new', {}, 'vethnew');
    const next = endpointsWith(s.endpoints, extra);
    const index = endpointIndex(next);
    expect(index.byNetwork.get('a')?.get('new')).toBe(extra);
    // Moved, not made again: the network it did not touch keeps the very map of the old index.
    expect(index.byNetwork.get('b')).toBe(endpointIndex(s.endpoints).byNetwork.get('b'));
    // The old list's index is untouched: states are never changed in place.
    expect(endpointOf(s.endpoints, 'a', 'new')).toBeUndefined();
    const back = endpointsWithout(next, extra);
    expect(endpointOf(back, 'a', 'new')).toBeUndefined();
    expect(endpointIndex(back).byNetwork.get('b')).toBe(index.byNetwork.get('b'));
    expect(endpointIndex(back).size).toBe(20);
  });
});
