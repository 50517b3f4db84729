/**
 * Desired state -> one nftables document (pure and deterministic). The table is rebuilt whole:
 * add table, flush table, then every chain, set, map, rule and element, in one transaction.
 */
import { formatIp, parseCidr, type IpFamily } from '../topology/cidr.js';
import type { Network, PublishedPort, State } from '../topology/state.js';
import * as e from '../nft/expr.js';
import type { Expr, NftDocument } from '../nft/schema.js';
import { Transaction, type Element, type MapSpec } from '../nft/transaction.js';
import { DEFAULT_MARK_MASK, markValue, networkMarks } from '../hostfw/marks.js';
import { renderAntispoof } from './antispoof.js';
import { CHAIN, FAMILY, PORT_MAP_KINDS, portMapName, SET_BRIDGES, SET_GATEWAYS, TABLE, type PortMapKind } from './names.js';

const L3 = { 4: 'ip', 6: 'ip6' } as const;
const NFPROTO = { 4: 'ipv4', 6: 'ipv6' } as const;
const ADDR_TYPE = { 4: 'ipv4_addr', 6: 'ipv6_addr' } as const;
const ANY = { 4: e.prefix('0.0.0.0', 0), 6: e.prefix('::', 0) } as const;
const FAMILIES = [4, 6] as const;

const familyOf = (addr: string): IpFamily => (addr.includes(':') ? 6 : 4);
const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The lookup key of each kind of port map, as matched in the DNAT rules. */
function portKey(fam: IpFamily, kind: PortMapKind): Expr {
  const tail = [e.meta('l4proto'), e.payload('th', 'dport')];
  return kind === 'any' ? e.concat(...tail) : e.concat(e.payload(L3[fam], 'daddr'), ...tail);
}

function portKeyType(fam: IpFamily, kind: PortMapKind): string[] {
  return kind === 'any' ? ['inet_proto', 'inet_service'] : [ADDR_TYPE[fam], 'inet_proto', 'inet_service'];
}

export const portMapKind = (port: PublishedPort): PortMapKind =>
  port.hostPortEnd > port.hostPort ? 'range' : port.hostIp === undefined ? 'any' : 'ip';

/** Map elements for one published port; a range is one interval in the address map. */
export function portElements(
  state: State,
  port: PublishedPort,
  index?: ReadonlyMap<string, State['endpoints'][number]>,
): { set: string; elem: Element[] }[] {
  const ep = index
    ? index.get(`${port.network}\0${port.container}`)
    : state.endpoints.find((x) => x.network === port.network && x.container === port.container);
  if (!ep) return [];
  const kind = portMapKind(port);
  const out: { set: string; elem: Element[] }[] = [];
  for (const fam of FAMILIES) {
    if (port.hostIp !== undefined && familyOf(port.hostIp) !== fam) continue;
    const target = ep.addresses.find((a) => familyOf(a) === fam);
    if (target === undefined) continue;
    const key = (ports: Expr): Expr =>
      kind === 'any' ? e.concat(port.protocol, ports) : e.concat(port.hostIp ?? ANY[fam], port.protocol, ports);
    const ports: Expr = kind === 'range' ? e.range(port.hostPort, port.hostPortEnd) : port.hostPort;
    out.push({ set: portMapName(fam, kind, 'addr'), elem: [[key(ports), target]] });
    // The port map needs one element per port: its data is a single port.
    const portElems: Element[] = [];
    for (let p = port.hostPort; p <= port.hostPortEnd; p++) portElems.push([key(p), port.containerPort + (p - port.hostPort)]);
    out.push({ set: portMapName(fam, kind, 'port'), elem: portElems });
  }
  return out;
}

function subnetsOf(net: Network, fam: IpFamily) {
  return net.subnets.filter((s) => parseCidr('subnet', s.cidr).family === fam);
}

function declare(tx: Transaction): void {
  const sets: MapSpec[] = [{ name: SET_BRIDGES, type: 'ifname' }];
  for (const fam of FAMILIES) {
    sets.push({ name: SET_GATEWAYS[fam], type: ADDR_TYPE[fam] });
    for (const kind of PORT_MAP_KINDS) {
      const type = portKeyType(fam, kind);
      const flags = kind === 'range' ? { flags: ['interval'] } : {};
      sets.push({ name: portMapName(fam, kind, 'addr'), type, map: ADDR_TYPE[fam], ...flags });
      sets.push({ name: portMapName(fam, kind, 'port'), type, map: 'inet_service', ...flags });
    }
  }
  for (const set of sets) tx.addSet(set).flushSet(set);
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
}

/** Priority of the forward and input chains (and so of the marks): before every usual filter chain. */
export const FILTER_PRIO = -200;

export interface RenderOptions {
  /** The mask of the per-network marks (hostfw/marks.ts); null marks nothing (`--host-firewall off`). */
  markMask?: number | null;
}

/**
 * The one place a packet is accepted on the forward and input hooks: it leaves with its network's
 * mark (by the bridge it came in on or goes out to), which the host firewall's rule accepts.
 * Traffic of no bridge is accepted unmarked: the host firewall alone decides about it.
 */
function acceptRules(tx: Transaction, nets: Network[], state: State, mask: number | null): void {
  if (mask !== null) {
    const ids = networkMarks(state);
    const keep = (~mask >>> 0) as number;
    for (const net of nets) {
      const value = markValue(ids.get(net.name) ?? 0, mask);
      const set = e.setMark(keep, value);
      for (const dir of ['iifname', 'oifname'] as const) tx.addRule(CHAIN.accept, [e.match(e.meta(dir), net.bridge), set, e.accept]);
    }
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
        e.match(e.meta('l4proto'), e.anonSet(['tcp', 'udp'])),
        e.dnatViaMaps(L3[fam], portKey(fam, kind), portMapName(fam, kind, 'addr'), portMapName(fam, kind, 'port')),
      ]);
  // Bridges get route_localnet (so the host's 127.0.0.1 can reach a container); nothing that did
  // not come from loopback may use it, as Docker's raw PREROUTING rule ensures.
  tx.addRule(CHAIN.rawPrerouting, [e.match(e.meta('iifname'), 'lo', '!='), e.match(e.payload('ip', 'daddr'), LOOPBACK[4]), e.drop]);
}

function natRules(tx: Transaction, nets: Network[]): void {
  // The host's own connection to a port published on 127.0.0.1 leaves with a routable source.
  if (nets.length > 0)
    tx.addRule(CHAIN.postrouting, [
      e.match(e.payload('ip', 'saddr'), LOOPBACK[4]),
      e.match(e.meta('oifname'), `@${SET_BRIDGES}`),
      e.masquerade,
    ]);
  for (const net of nets) {
    if (net.internal) continue;
    for (const fam of FAMILIES)
      for (const s of subnetsOf(net, fam)) {
        const c = parseCidr('subnet', s.cidr);
        const fromSubnet = e.match(e.payload(L3[fam], 'saddr'), e.prefix(formatIp(c.family, c.network), c.prefix));
        tx.addRule(CHAIN.postrouting, [fromSubnet, e.match(e.meta('oifname'), net.bridge, '!='), e.masquerade]);
        // Hairpin: a container reaching a published port on its own bridge gets the gateway as
        // source, so the reply comes back through the host and is un-NATed. (Postrouting has no
        // input interface, so "from this bridge" is "from this subnet".)
        tx.addRule(CHAIN.postrouting, [
          fromSubnet,
          e.match(e.meta('oifname'), net.bridge),
          e.match(e.ct('status'), 'dnat', 'in'),
          e.masquerade,
        ]);
      }
  }
}

function forwardRules(tx: Transaction, nets: Network[]): void {
  const toBridges = e.match(e.meta('oifname'), `@${SET_BRIDGES}`);
  // An internal network reaches nothing beyond its bridge, established or not.
  for (const net of nets)
    if (net.internal)
      tx.addRule(CHAIN.forward, [e.match(e.meta('iifname'), net.bridge), e.match(e.meta('oifname'), net.bridge, '!='), e.drop]);
  // Every packet of every forwarded connection passes here: established traffic (both ways) is
  // settled by the first rule, so only a connection's first packet reads further.
  tx.addRule(CHAIN.forward, [e.match(e.ct('state'), ['established', 'related'], 'in'), e.goto(CHAIN.accept)]);
  tx.addRule(CHAIN.forward, [toBridges, e.match(e.ct('status'), 'dnat', 'in'), e.goto(CHAIN.accept)]);
  // Routed traffic between containers of one bridge: allowed, unless the network has ICC off
  // (bridged traffic between its ports is stopped by port isolation).
  for (const net of nets)
    tx.addRule(CHAIN.forward, [
      e.match(e.meta('iifname'), net.bridge),
      e.match(e.meta('oifname'), net.bridge),
      net.icc ? e.goto(CHAIN.accept) : e.drop,
    ]);
  // Anything else towards a bridge (another network, or a machine routing the subnet here) is dropped.
  tx.addRule(CHAIN.forward, [toBridges, e.drop]);
  // What is left from a bridge is egress (internal networks were stopped above): accepted, marked.
  if (nets.length > 0) tx.addRule(CHAIN.forward, [e.match(e.meta('iifname'), `@${SET_BRIDGES}`), e.goto(CHAIN.accept)]);
}

/**
 * A container may talk to its own gateway, never to another network's. What the host needs from
 * its bridges (replies to its own connections, localhost publishing's included, and IPv6 neighbour
 * discovery) is marked; any other container-to-host traffic is left to the host firewall.
 */
function inputRules(tx: Transaction, nets: Network[]): void {
  if (nets.length === 0) return;
  const fromBridges = e.match(e.meta('iifname'), `@${SET_BRIDGES}`);
  tx.addRule(CHAIN.input, [fromBridges, e.match(e.ct('state'), ['established', 'related'], 'in'), e.goto(CHAIN.accept)]);
  tx.addRule(CHAIN.input, [
    fromBridges,
    e.match(e.payload('icmpv6', 'type'), e.anonSet(['nd-neighbor-solicit', 'nd-neighbor-advert'])),
    e.goto(CHAIN.accept),
  ]);
  if (nets.length < 2) return;
  for (const net of nets)
    for (const fam of FAMILIES)
      for (const s of subnetsOf(net, fam))
        tx.addRule(CHAIN.input, [
          e.match(e.meta('iifname'), net.bridge),
          e.match(e.payload(L3[fam], 'daddr'), s.gateway, '!='),
          e.match(e.payload(L3[fam], 'daddr'), `@${SET_GATEWAYS[fam]}`),
          e.drop,
        ]);
}

function elements(tx: Transaction, state: State, nets: Network[]): void {
  networkElements(tx, nets);
  const grouped = new Map<string, Element[]>();
  const endpoints = new Map(state.endpoints.map((ep) => [`${ep.network}\0${ep.container}`, ep]));
  for (const port of sortPorts(state.ports))
    for (const { set, elem } of portElements(state, port, endpoints)) {
      const list = grouped.get(set) ?? [];
      if (list.length === 0) grouped.set(set, list);
      for (const el of elem) list.push(el);
    }
  for (const [set, elem] of [...grouped].sort(([a], [b]) => (a < b ? -1 : 1))) tx.addElements(set, elem);
}

export function sortPorts(ports: readonly PublishedPort[]): PublishedPort[] {
  const keyed = ports.map((p) => [`${p.protocol}/${p.hostIp ?? ''}/${String(p.hostPort).padStart(5, '0')}`, p] as const);
  return keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, p]) => p);
}

/** Starts a transaction on the owned table. */
export const ownedTransaction = () => new Transaction(FAMILY, TABLE);

/** The chains whose rules depend on the networks; the others (DNAT through the port maps, raw) never change. */
const NETWORK_CHAINS = [CHAIN.postrouting, CHAIN.forward, CHAIN.input, CHAIN.accept] as const;

/**
 * The rules that depend on the networks alone, for a change of networks on a table that exists:
 * those chains flushed and refilled, the bridge and gateway sets refilled, and neither the port
 * maps nor the rules that read them touched, so that creating or removing a network costs the
 * same with 10,000 published ports as with none (nft loads what a document names). Flushing a
 * chain or set that is gone fails the whole document: the caller then rebuilds everything.
 */
export function renderRules(state: State, options: RenderOptions = {}): NftDocument {
  const nets = [...state.networks].sort(byName);
  const tx = ownedTransaction();
  for (const chain of NETWORK_CHAINS) tx.flushChain(chain);
  for (const name of [SET_BRIDGES, SET_GATEWAYS[4], SET_GATEWAYS[6]]) tx.flushSet({ name });
  natRules(tx, nets);
  forwardRules(tx, nets);
  inputRules(tx, nets);
  acceptRules(tx, nets, state, options.markMask === undefined ? DEFAULT_MARK_MASK : options.markMask);
  networkElements(tx, nets);
  return tx.toDocument();
}

function networkElements(tx: Transaction, nets: Network[]): void {
  tx.addElements(
    SET_BRIDGES,
    nets.map((n) => n.bridge),
  );
  for (const fam of FAMILIES)
    tx.addElements(
      SET_GATEWAYS[fam],
      nets.flatMap((n) => subnetsOf(n, fam).map((s) => s.gateway)),
    );
}

export function renderRuleset(state: State, options: RenderOptions = {}): NftDocument {
  const nets = [...state.networks].sort(byName);
  const tx = ownedTransaction().addTable().flushTable();
  declare(tx);
  dnatRules(tx);
  natRules(tx, nets);
  forwardRules(tx, nets);
  inputRules(tx, nets);
  acceptRules(tx, nets, state, options.markMask === undefined ? DEFAULT_MARK_MASK : options.markMask);
  elements(tx, state, nets);
  return { nftables: [...tx.toDocument().nftables, ...renderAntispoof(state)] };
}
