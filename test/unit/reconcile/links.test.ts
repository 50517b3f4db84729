/** The link check counts the state's marked links on its way, so that orphans need no second walk, and never hides one. */
import { describe, expect, it } from 'vitest';
import type { NamespaceProbe } from '../../../src/ip/netns.js';
import type { LinkAddresses } from '../../../src/ip/schema.js';
import { checkLinks, type HostLinks } from '../../../src/reconcile/links.js';
import type { State } from '../../../src/topology/state.js';
import { dualStackState } from '../../helpers/states.js';

const MARK = 'nftbridge:test';
const everywhere: NamespaceProbe = { identity: () => '4:1', isNamespace: () => true };

let index = 0;
const link = (ifname: string, more: Partial<LinkAddresses> = {}): LinkAddresses => ({
  ifindex: ++index,
  ifname,
  flags: ['UP'],
  ifalias: MARK,
  addr_info: [],
  ...more,
});

/** The host as the state wants it, every link marked, plus `extra` links. */
function hostOf(state: State, extra: LinkAddresses[] = []): HostLinks {
  const all: LinkAddresses[] = [];
  const routes = new Set<string>();
  for (const n of state.networks) {
    all.push(link(n.bridge, { addr_info: n.subnets.map((s) => ({ local: s.gateway })) as LinkAddresses['addr_info'] }));
    for (const s of n.subnets) routes.add(`${s.cidr} ${n.bridge}`);
  }
  for (const ep of state.endpoints) {
    const master = state.networks.find((n) => n.name === ep.network)?.bridge;
    all.push(link(ep.hostIfname, master === undefined ? {} : { master }));
  }
  all.push(...extra);
  const aliases = new Map<string, number>();
  for (const l of all) if (l.ifalias) aliases.set(l.ifalias, (aliases.get(l.ifalias) ?? 0) + 1);
  return { all, byName: new Map(all.map((l) => [l.ifname, l])), routes, namespaces: everywhere, aliases };
}

describe('checkLinks', () => {
  it('counts each marked link the state names, so an extra marked link shows as a difference', () => {
    const state = dualStackState();
    const named = state.networks.length + state.endpoints.length;
    const clean = checkLinks(state, hostOf(state), MARK);
    expect(clean).toEqual({ drift: [], marked: named });
    const links = hostOf(state, [link('vethorphan')]);
    expect(checkLinks(state, links, MARK).marked).toBe(named);
    expect(links.aliases.get(MARK)).toBe(named + 1);
  });

  it('gives up counting when the state names one link twice (it would hide an orphan)', () => {
    const state = dualStackState();
    const [first, second] = state.endpoints;
    expect(second).toBeDefined();
    const twice: State = {
      ...state,
      endpoints: state.endpoints.map((ep) =>
        ep === second && first ? { ...ep, hostIfname: first.hostIfname, network: first.network } : ep,
      ),
    };
    expect(checkLinks(twice, hostOf(state), MARK).marked).toBe(-1);
    const bridgeTwice: State = {
      ...state,
      networks: [...state.networks, { ...state.networks[0], name: 'other' } as State['networks'][number]],
    };
    expect(checkLinks(bridgeTwice, hostOf(state), MARK).marked).toBe(-1);
    // An endpoint whose host side has a bridge's name.
    const bridge = state.networks[0]?.bridge ?? '';
    const asBridge: State = { ...state, endpoints: state.endpoints.map((ep) => (ep === first ? { ...ep, hostIfname: bridge } : ep)) };
    expect(checkLinks(asBridge, hostOf(state), MARK).marked).toBe(-1);
  });

  it('counts nothing without a mark, and reports what differs as before', () => {
    const state = dualStackState();
    const ep = state.endpoints[0];
    const host = hostOf(state);
    const links = { ...host, byName: new Map([...host.byName].filter(([name]) => name !== ep?.hostIfname)) };
    const r = checkLinks(state, links);
    expect(r.marked).toBe(0);
    expect(r.drift).toEqual([
      { kind: 'endpoint', subject: `${ep?.network}/${ep?.container}`, reason: `host interface ${ep?.hostIfname} is missing` },
    ]);
  });
});
