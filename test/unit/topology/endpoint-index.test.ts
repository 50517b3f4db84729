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
      const i = endpointIndex(list);
      return { byNetwork: i.byNetwork, byContainer: i.byContainer, hostIfnames: i.hostIfnames, addresses: i.addresses, size: i.size };
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
          expect(plain(list)).toEqual(plain([...list]));
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
    const b = index.byNetwork.get('b');
    const back = endpointsWithout(next, extra);
    expect(endpointOf(back, 'a', 'new')).toBeUndefined();
    // Moved, not made again: the network it did not touch keeps the very map.
    expect(endpointIndex(back)).toBe(index);
    expect(endpointIndex(back).byNetwork.get('b')).toBe(b);
    expect(endpointIndex(back).size).toBe(20);
    // The lists it left answer from their own endpoints (an index made again when asked).
    expect(endpointOf(s.endpoints, 'a', 'new')).toBeUndefined();
    expect(endpointOf(next, 'a', 'new')).toBe(extra);
    expect(endpointIndex(next)).not.toBe(index);
  });

  it('hands out the lowest free address, as a search from the first one does, across connects and disconnects', () => {
    // The search starts where the index last found every address below held: it must never skip a free one.
    const naive = (state: State, network: string, seen: ReadonlySet<string>) => {
      const net = state.networks.find((n) => n.name === network);
      const held = new Set([...(net?.subnets.map((x) => x.gateway) ?? []), ...seen]);
      for (const ep of state.endpoints) if (ep.network === network) for (const a of ep.addresses) held.add(a);
      for (let i = 1; i < 255; i++) if (!held.has(`10.60.0.${i}`)) return `10.60.0.${i}`;
      return undefined;
    };
    const step = fc.oneof(
      fc.record({ op: fc.constant('connect' as const), seen: fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 3 }) }),
      fc.record({ op: fc.constant('disconnect' as const), at: fc.nat(20) }),
      fc.record({ op: fc.constant('reread' as const) }),
    );
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40, size: 'max' }), (steps) => {
        let state = emptyState();
        state.networks.push(planNetwork(state, { name: 'p', subnet: '10.60.0.0/24' }));
        let n = 0;
        for (const s of steps) {
          if (s.op === 'connect') {
            const seen = new Set(s.seen.map((i) => `10.60.0.${i}`));
            const want = naive(state, 'p', seen);
            const ep = planEndpoint(state, 'p', `k${n}`, {}, `vethk${n}`, seen);
            n++;
            expect(ep.addresses[0]).toBe(want);
            state = { ...state, endpoints: endpointsWith(state.endpoints, ep) };
          } else if (s.op === 'disconnect') {
            const ep = state.endpoints[s.at % Math.max(1, state.endpoints.length)];
            if (ep) state = { ...state, endpoints: endpointsWithout(state.endpoints, ep) };
          } else state = { ...state, endpoints: [...state.endpoints] }; // a list with no index (a state read again)
        }
      }),
    );
  });
});
