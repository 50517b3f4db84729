/** Endpoints looked up by network and container through an index kept with their list. */
import { describe, expect, it } from 'vitest';
import { endpointIndex, endpointOf, endpointsOf, endpointsOn } from '../../../src/topology/endpoint-index.js';
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
});
