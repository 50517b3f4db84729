/**
 * Desired state -> one nftables document (pure and deterministic). The table is rebuilt whole:
 * add table, flush table, then every chain, set, map, rule and element, in one transaction.
 */
import type { IpFamily } from '../topology/cidr.js';
import { endpointOf } from '../topology/endpoint-index.js';
import type { Endpoint, PublishedPort, State } from '../topology/state.js';
import * as e from '../nft/expr.js';
import type { Expr, NftDocument } from '../nft/schema.js';
import { Transaction, type Element, type MapSpec } from '../nft/transaction.js';
import { renderAntispoof } from './antispoof.js';
import { CHAIN, FAMILY, NET, PORT_MAP_KINDS, portMapName, SET_BRIDGES, SET_GATEWAYS, TABLE, type PortMapKind } from './names.js';
import { addNetworkChains, addNetworkElements, maskOf, type NetworkParts, partsOf } from './network-rules.js';

const L3 = { 4: 'ip', 6: 'ip6' } as const;
const NFPROTO = { 4: 'ipv4', 6: 'ipv6' } as const;
const ADDR_TYPE = { 4: 'ipv4_addr', 6: 'ipv6_addr' } as const;
const ANY = { 4: e.prefix('0.0.0.0', 0), 6: e.prefix('::', 0) } as const;
const FAMILIES = [4, 6] as const;

const familyOf = (addr: string): IpFamily => (addr.includes(':') ? 6 : 4);

/** Kinds whose key is the port alone: the protocol is the map's, matched by the rule. */
const byProtocol = (kind: PortMapKind): kind is 'tcp' | 'udp' => kind === 'tcp' || kind === 'udp';

/**
 * The lookup key of each kind of port map, as matched in the DNAT rules. `tcp dport` carries its
 * own protocol match (nft adds it, and lists the rule back without it).
 */
function portKey(fam: IpFamily, kind: PortMapKind): Expr {
  return byProtocol(kind) ? e.payload(kind, 'dport') : e.concat(e.payload(L3[fam], 'daddr'), e.meta('l4proto'), e.payload('th', 'dport'));
}

function portKeyType(fam: IpFamily, kind: PortMapKind): string | string[] {
  return byProtocol(kind) ? 'inet_service' : [ADDR_TYPE[fam], 'inet_proto', 'inet_service'];
}

export const portMapKind = (port: PublishedPort): PortMapKind =>
  port.hostPortEnd > port.hostPort ? 'range' : port.hostIp === undefined ? port.protocol : 'ip';

/** Map elements for one published port; a range is one interval in the address map. */
export function portElements(
  state: State,
  port: PublishedPort,
  index?: ReadonlyMap<string, State['endpoints'][number]>,
): { set: string; elem: Element[] }[] {
  const ep = index ? index.get(`${port.network}\0${port.container}`) : endpointOf(state.endpoints, port.network, port.container);
  return ep ? elementsFor(port, ep) : [];
}

/** The elements of one port bound to `ep`. */
function elementsFor(port: PublishedPort, ep: Endpoint): { set: string; elem: Element[] }[] {
  const kind = portMapKind(port);
  const out: { set: string; elem: Element[] }[] = [];
  for (const fam of FAMILIES) {
    if (port.hostIp !== undefined && familyOf(port.hostIp) !== fam) continue;
    const target = ep.addresses.find((a) => familyOf(a) === fam);
    if (target === undefined) continue;
    const key = (ports: Expr): Expr => (byProtocol(kind) ? ports : e.concat(port.hostIp ?? ANY[fam], port.protocol, ports));
    const ports: Expr = kind === 'range' ? e.range(port.hostPort, port.hostPortEnd) : port.hostPort;
    out.push({ set: portMapName(fam, kind, 'addr'), elem: [[key(ports), target]] });
    // The port map needs one element per port: its data is a single port.
    const portElems: Element[] = [];
    for (let p = port.hostPort; p <= port.hostPortEnd; p++) portElems.push([key(p), port.containerPort + (p - port.hostPort)]);
    out.push({ set: portMapName(fam, kind, 'port'), elem: portElems });
  }
  return out;
}

/**
 * Chains first: nft 1.0.6 fails a verdict map's element that jumps to a chain added after the
 * map in the same document ("No such file or directory").
 */
function declare(tx: Transaction, networks: Iterable<NetworkParts>): void {
  tx.addChain({ name: CHAIN.prerouting, type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' });
  tx.addChain({ name: CHAIN.output, type: 'nat', hook: 'output', prio: -100, policy: 'accept' });
  tx.addChain({ name: CHAIN.postrouting, type: 'nat', hook: 'postrouting', prio: 100, policy: 'accept' });
  // Forward and input run before any other table's filter chains (iptables, firewalld, a
  // hand-written inet filter sit at 0 or +10): what nftbridge accepts is marked before they look.
  tx.addChain({ name: CHAIN.forward, type: 'filter', hook: 'forward', prio: FILTER_PRIO, policy: 'accept' });
  tx.addChain({ name: CHAIN.input, type: 'filter', hook: 'input', prio: FILTER_PRIO, policy: 'accept' });
  tx.addChain({ name: CHAIN.rawPrerouting, type: 'filter', hook: 'prerouting', prio: -300, policy: 'accept' });
  tx.addChain({ name: CHAIN.dnat4 });
  tx.addChain({ name: CHAIN.dnat6 });
  tx.addChain({ name: CHAIN.accept });
  addNetworkChains(tx, networks);
  const sets: MapSpec[] = [
    { name: SET_BRIDGES, type: 'ifname' },
    { name: NET.internal, type: 'ifname' },
    { name: NET.internalSelf, type: ['ifname', 'ifname'] },
    { name: NET.icc, type: ['ifname', 'ifname'], map: 'verdict' },
    { name: NET.markIn, type: 'ifname', map: 'verdict' },
    { name: NET.markOut, type: 'ifname', map: 'verdict' },
  ];
  for (const fam of FAMILIES) {
    sets.push({ name: SET_GATEWAYS[fam], type: ADDR_TYPE[fam] });
    sets.push({ name: NET.ownGateway[fam], type: ['ifname', ADDR_TYPE[fam]] });
    sets.push({ name: NET.masquerade[fam], type: ADDR_TYPE[fam], map: 'verdict', flags: ['interval'] });
    for (const kind of PORT_MAP_KINDS) {
      const type = portKeyType(fam, kind);
      const flags = kind === 'range' ? { flags: ['interval'] } : {};
      sets.push({ name: portMapName(fam, kind, 'addr'), type, map: ADDR_TYPE[fam], ...flags });
      sets.push({ name: portMapName(fam, kind, 'port'), type, map: 'inet_service', ...flags });
    }
  }
  for (const set of sets) tx.addSet(set).flushSet(set);
}

/** Priority of the forward and input chains (and so of the marks): before every usual filter chain. */
export const FILTER_PRIO = -200;

export interface RenderOptions {
  /** The mask of the per-network marks (hostfw/marks.ts); null marks nothing (`--host-firewall off`). */
  markMask?: number | null;
}

/**
 * The one place a packet is accepted on the forward and input hooks: it leaves with its network's
 * mark, the network of the bridge it came in on, else of the one it goes out to (one chain per
 * network, network-rules.ts), which the host firewall's rule accepts. Traffic of no bridge is
 * accepted unmarked: the host firewall alone decides about it.
 */
function acceptRules(tx: Transaction, mask: number | null): void {
  if (mask !== null) {
    tx.addRule(CHAIN.accept, [e.vmap(e.meta('iifname'), NET.markIn)]);
    tx.addRule(CHAIN.accept, [e.vmap(e.meta('oifname'), NET.markOut)]);
  }
  tx.addRule(CHAIN.accept, [e.accept]);
}

const LOOPBACK = { 4: e.prefix('127.0.0.0', 8), 6: '::1' } as const;

/**
 * DNAT only towards local addresses, so the host's own outbound traffic is never hijacked.
 * Loopback destinations are DNATed only for the host's own traffic (output): a port published on
 * 127.0.0.1 must never answer another machine, whatever it routes or crafts.
 * The hook chains do one fib lookup and jump to one chain of map lookups per family: a new
 * connection pays for one fib lookup, not one per map. (nft wants the protocol match in the rule
 * that reads `th dport`.)
 */
function dnatRules(tx: Transaction): void {
  for (const chain of [CHAIN.prerouting, CHAIN.output]) {
    tx.addRule(chain, [e.match(e.fibDaddrType, 'local', '!='), e.accept]);
    for (const fam of FAMILIES) {
      const ofFamily =
        chain === CHAIN.prerouting ? e.match(e.payload(L3[fam], 'daddr'), LOOPBACK[fam], '!=') : e.match(e.meta('nfproto'), NFPROTO[fam]);
      tx.addRule(chain, [ofFamily, e.jump(CHAIN[`dnat${fam}`])]);
    }
  }
  for (const fam of FAMILIES)
    for (const kind of PORT_MAP_KINDS)
      tx.addRule(CHAIN[`dnat${fam}`], [
        ...(byProtocol(kind) ? [] : [e.match(e.meta('l4proto'), e.anonSet(['tcp', 'udp']))]),
        e.dnatViaMaps(L3[fam], portKey(fam, kind), portMapName(fam, kind, 'addr'), portMapName(fam, kind, 'port')),
      ]);
  // Bridges get route_localnet (so the host's 127.0.0.1 can reach a container); nothing that did
  // not come from loopback may use it, as Docker's raw PREROUTING rule ensures.
  tx.addRule(CHAIN.rawPrerouting, [e.match(e.meta('iifname'), 'lo', '!='), e.match(e.payload('ip', 'daddr'), LOOPBACK[4]), e.drop]);
}

/** Masquerade by source subnet (each network's own chain, network-rules.ts). */
function natRules(tx: Transaction): void {
  // The host's own connection to a port published on 127.0.0.1 leaves with a routable source.
  tx.addRule(CHAIN.postrouting, [
    e.match(e.payload('ip', 'saddr'), LOOPBACK[4]),
    e.match(e.meta('oifname'), `@${SET_BRIDGES}`),
    e.masquerade,
  ]);
  for (const fam of FAMILIES) tx.addRule(CHAIN.postrouting, [e.vmap(e.payload(L3[fam], 'saddr'), NET.masquerade[fam])]);
}

function forwardRules(tx: Transaction): void {
  const toBridges = e.match(e.meta('oifname'), `@${SET_BRIDGES}`);
  const inOut = e.concat(e.meta('iifname'), e.meta('oifname'));
  // An internal network reaches nothing beyond its bridge, established or not.
  tx.addRule(CHAIN.forward, [e.match(e.meta('iifname'), `@${NET.internal}`), e.match(inOut, `@${NET.internalSelf}`, '!='), e.drop]);
  // Every packet of every forwarded connection passes here: established traffic (both ways) is
  // settled by the first rule, so only a connection's first packet reads further.
  tx.addRule(CHAIN.forward, [e.match(e.ct('state'), ['established', 'related'], 'in'), e.goto(CHAIN.accept)]);
  tx.addRule(CHAIN.forward, [toBridges, e.match(e.ct('status'), 'dnat', 'in'), e.goto(CHAIN.accept)]);
  // Routed traffic between containers of one bridge: accepted, or dropped with ICC off.
  tx.addRule(CHAIN.forward, [e.vmap(inOut, NET.icc)]);
  // Anything else towards a bridge (another network, or a machine routing the subnet here) is dropped.
  tx.addRule(CHAIN.forward, [toBridges, e.drop]);
  // What is left from a bridge is egress (internal networks were stopped above): accepted, marked.
  tx.addRule(CHAIN.forward, [e.match(e.meta('iifname'), `@${SET_BRIDGES}`), e.goto(CHAIN.accept)]);
}

/**
 * A container may talk to its own gateway, never to another network's. What the host needs from
 * its bridges (replies to its own connections, localhost publishing's included, and IPv6 neighbour
 * discovery) is marked; any other container-to-host traffic is left to the host firewall.
 */
function inputRules(tx: Transaction): void {
  const fromBridges = e.match(e.meta('iifname'), `@${SET_BRIDGES}`);
  tx.addRule(CHAIN.input, [fromBridges, e.match(e.ct('state'), ['established', 'related'], 'in'), e.goto(CHAIN.accept)]);
  tx.addRule(CHAIN.input, [
    fromBridges,
    e.match(e.payload('icmpv6', 'type'), e.anonSet(['nd-neighbor-solicit', 'nd-neighbor-advert'])),
    e.goto(CHAIN.accept),
  ]);
  for (const fam of FAMILIES)
    tx.addRule(CHAIN.input, [
      fromBridges,
      e.match(e.concat(e.meta('iifname'), e.payload(L3[fam], 'daddr')), `@${NET.ownGateway[fam]}`, '!='),
      e.match(e.payload(L3[fam], 'daddr'), `@${SET_GATEWAYS[fam]}`),
      e.drop,
    ]);
}

/**
 * Each port's elements, kept per port object with the endpoint they were made for. States are
 * never changed in place (a change makes new objects, keeping the unchanged ones), so a rebuild
 * renders only the ports that are new since the last one (bench: "full rebuild", 10,000 ports).
 */
const elementsOf = new WeakMap<PublishedPort, { ep: Endpoint; out: { set: string; elem: Element[] }[] }>();
const sortedPorts = new WeakMap<readonly PublishedPort[], PublishedPort[]>();

/** The port maps' elements, one command per map. */
function portMapElements(tx: Transaction, state: State): void {
  const grouped = new Map<string, Element[]>();
  let sorted = sortedPorts.get(state.ports);
  if (!sorted) sortedPorts.set(state.ports, (sorted = sortPorts(state.ports)));
  for (const port of sorted) {
    // By network, then container (topology/endpoint-index.ts): no key string per port.
    const ep = endpointOf(state.endpoints, port.network, port.container);
    if (!ep) continue;
    let made = elementsOf.get(port);
    if (made?.ep !== ep) elementsOf.set(port, (made = { ep, out: elementsFor(port, ep) }));
    for (const { set, elem } of made.out) {
      const list = grouped.get(set) ?? [];
      if (list.length === 0) grouped.set(set, list);
      for (const el of elem) list.push(el);
    }
  }
  for (const [set, elem] of [...grouped].sort(([a], [b]) => (a < b ? -1 : 1))) tx.addElements(set, elem);
}

export function sortPorts(ports: readonly PublishedPort[]): PublishedPort[] {
  const keyed = ports.map((p) => [`${p.protocol}/${p.hostIp ?? ''}/${String(p.hostPort).padStart(5, '0')}`, p] as const);
  return keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, p]) => p);
}

/** Starts a transaction on the owned table. */
export const ownedTransaction = () => new Transaction(FAMILY, TABLE);

/**
 * The whole table. Its base chains never name a network: what each network adds (elements, and
 * its own chains) comes from network-rules.ts, which also gives the small document of a network
 * created or removed.
 */
export function renderRuleset(state: State, options: RenderOptions = {}): NftDocument {
  const mask = maskOf(options.markMask);
  const parts = partsOf(state, mask);
  const tx = ownedTransaction().addTable().flushTable();
  declare(tx, parts.values());
  dnatRules(tx);
  natRules(tx);
  forwardRules(tx);
  inputRules(tx);
  acceptRules(tx, mask);
  addNetworkElements(tx, parts.values());
  portMapElements(tx, state);
  return { nftables: [...tx.toDocument().nftables, ...renderAntispoof(state)] };
}
