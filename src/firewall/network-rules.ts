/**
 * What one network adds to the owned table: elements of the sets and verdict maps that the base
 * chains read, and two chains of its own (its masquerade rules, its mark). The base chains' rules
 * never name a network, so creating or removing one changes a handful of elements and chains: the
 * document is the same size with one network or a hundred, small enough for the long-lived nft
 * session, and the port maps are not touched.
 */
import { DEFAULT_MARK_MASK, markValue, networkMarks } from '../hostfw/marks.js';
import { canonical } from '../nft/canonical.js';
import * as e from '../nft/expr.js';
import type { Expr, KnownStatement, NftDocument } from '../nft/schema.js';
import { type Element, keyOf, Transaction } from '../nft/transaction.js';
import { formatIp, type IpFamily, parseCidr } from '../topology/cidr.js';
import type { Network, State } from '../topology/state.js';
import { CHAIN, FAMILY, NET, netChain, SET_BRIDGES, SET_GATEWAYS, TABLE } from './names.js';

export interface NetworkParts {
  chains: { name: string; rules: KnownStatement[][] }[];
  elements: { set: string; elem: Element[] }[];
}

const FAMILIES = [4, 6] as const;
const subnetsOf = (net: Network, fam: IpFamily) =>
  net.subnets.map((s) => ({ ...s, parsed: parseCidr('subnet', s.cidr) })).filter((s) => s.parsed.family === fam);

/** A subnet as an interval map key, in the form `nft -j list` prints it back (a full-length prefix is an address). */
function subnetKey(c: ReturnType<typeof parseCidr>): Expr {
  const addr = formatIp(c.family, c.network);
  return c.prefix === (c.family === 4 ? 32 : 128) ? addr : e.prefix(addr, c.prefix);
}

/** The mask a render uses: the host's option, the default when not given, null for none. */
export const maskOf = (mask: number | null | undefined): number | null => (mask === undefined ? DEFAULT_MARK_MASK : mask);

export function networkParts(net: Network, mask: number | null, marks: ReadonlyMap<string, number>): NetworkParts {
  const br = net.bridge;
  const chains: NetworkParts['chains'] = [];
  const elements: NetworkParts['elements'] = [{ set: SET_BRIDGES, elem: [br] }];
  for (const fam of FAMILIES) {
    const gateways = subnetsOf(net, fam).map((s) => s.gateway);
    if (gateways.length === 0) continue;
    elements.push({ set: SET_GATEWAYS[fam], elem: gateways });
    elements.push({ set: NET.ownGateway[fam], elem: gateways.map((g) => e.concat(br, g)) });
  }
  if (net.internal) {
    elements.push({ set: NET.internal, elem: [br] });
    elements.push({ set: NET.internalSelf, elem: [e.concat(br, br)] });
  }
  // Routed traffic between containers of one bridge (bridged traffic with ICC off is stopped by
  // port isolation).
  elements.push({ set: NET.icc, elem: [[e.concat(br, br), net.icc ? e.gotoVerdict(CHAIN.accept) : e.dropVerdict]] });
  if (!net.internal) {
    const post = netChain('post', br);
    chains.push({
      name: post,
      rules: [
        [e.match(e.meta('oifname'), br, '!='), e.masquerade],
        // Hairpin: a container reaching a published port on its own bridge gets the gateway as
        // source, so the reply comes back through the host and is un-NATed. (Postrouting has no
        // input interface, so "from this bridge" is "from this subnet", the map's key.)
        [e.match(e.meta('oifname'), br), e.match(e.ct('status'), 'dnat', 'in'), e.masquerade],
      ],
    });
    for (const fam of FAMILIES) {
      const subnets = subnetsOf(net, fam);
      if (subnets.length > 0)
        elements.push({ set: NET.masquerade[fam], elem: subnets.map((s) => [subnetKey(s.parsed), e.jumpVerdict(post)] as Element) });
    }
  }
  if (mask !== null) {
    const chain = netChain('mark', br);
    chains.push({ name: chain, rules: [[e.setMark(~mask >>> 0, markValue(marks.get(net.name) ?? 0, mask)), e.accept]] });
    elements.push({ set: NET.markIn, elem: [[br, e.gotoVerdict(chain)]] });
    elements.push({ set: NET.markOut, elem: [[br, e.gotoVerdict(chain)]] });
  }
  return { chains, elements };
}

/** Every network's parts, by bridge, in order of network name. */
export function partsOf(state: State, mask: number | null): Map<string, NetworkParts> {
  const marks = networkMarks(state);
  const nets = [...state.networks].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return new Map(nets.map((n) => [n.bridge, networkParts(n, mask, marks)]));
}

/** Each network's chains with their rules (before the verdict maps that jump to them, see render.ts). */
export function addNetworkChains(tx: Transaction, parts: Iterable<NetworkParts>, flushChains = false): void {
  for (const p of parts)
    for (const c of p.chains) {
      tx.addChain({ name: c.name });
      // A chain left behind (an interrupted change) must not keep its old rules twice.
      if (flushChains) tx.flushChain(c.name);
      for (const rule of c.rules) tx.addRule(c.name, rule);
    }
}

/** The elements of all the networks, one command per set. */
export function addNetworkElements(tx: Transaction, parts: Iterable<NetworkParts>): void {
  const bySet = new Map<string, Element[]>();
  for (const p of parts)
    for (const { set, elem } of p.elements) {
      const have = bySet.get(set);
      if (have) have.push(...elem);
      else bySet.set(set, [...elem]);
    }
  for (const [set, elem] of bySet) tx.addElements(set, elem);
}

/**
 * The change from `before` to `after` on a table that holds `before`: the networks that went or
 * differ lose their elements and chains, the ones that came or differ get theirs. Elements go
 * before the chains they jump to. Anything not as expected (an element or chain already gone)
 * fails the whole document: the caller then rebuilds the table.
 */
export function networkDelta(before: State, after: State, mask: number | null): NftDocument {
  const was = partsOf(before, mask);
  const now = partsOf(after, mask);
  const same = (a: NetworkParts | undefined, b: NetworkParts | undefined) =>
    a !== undefined && b !== undefined && canonical(a) === canonical(b);
  const gone = [...was].filter(([br, p]) => !same(p, now.get(br))).map(([, p]) => p);
  const come = [...now].filter(([br, p]) => !same(p, was.get(br))).map(([, p]) => p);
  const kept = new Set(come.flatMap((p) => p.chains.map((c) => c.name)));
  const tx = new Transaction(FAMILY, TABLE);
  for (const p of gone) for (const { set, elem } of p.elements) tx.deleteElements(set, elem.map(keyOf));
  for (const p of gone) for (const c of p.chains) if (!kept.has(c.name)) tx.deleteChain(c.name);
  addNetworkChains(tx, come, true);
  addNetworkElements(tx, come);
  return tx.toDocument();
}
