/**
 * Source-address validation for containers (beyond Docker, which relies on rp_filter): a frame
 * entering from a bridge port nftbridge made is dropped unless its source (IPv4, ARP sender, IPv6)
 * is one of that endpoint's own addresses. IPv6 link-local and the unspecified address stay
 * allowed for neighbour discovery and DAD, and an ARP probe's 0.0.0.0. The data is a set keyed by
 * host-side interface and address, changed element by element on connect and disconnect.
 *
 * Rules are written as `nft -j list` prints them back (no explicit `meta protocol`: nft adds that
 * dependency itself and does not list it), so drift compares equal.
 */
import * as e from '../nft/expr.js';
import type { NftCommand } from '../nft/schema.js';
import { Transaction, type Element } from '../nft/transaction.js';
import type { Endpoint, State } from '../topology/state.js';
import { SPOOF, SPOOF_FAMILY, TABLE } from './names.js';

export const spoofTransaction = () => new Transaction(SPOOF_FAMILY, TABLE);

/** The set elements that let one endpoint's own addresses through its host-side port. */
export function endpointElements(ep: Endpoint): { set: string; elem: Element[] }[] {
  const v4 = ep.addresses.filter((a) => !a.includes(':'));
  const v6 = ep.addresses.filter((a) => a.includes(':'));
  const out: { set: string; elem: Element[] }[] = [{ set: SPOOF.ports, elem: [ep.hostIfname] }];
  if (v4.length) out.push({ set: SPOOF.src4, elem: v4.map((a) => e.concat(ep.hostIfname, a)) });
  if (v6.length) out.push({ set: SPOOF.src6, elem: v6.map((a) => e.concat(ep.hostIfname, a)) });
  return out;
}

/** The whole anti-spoofing table for `state`, rebuilt as the inet table is: add, flush, everything. */
export function renderAntispoof(state: State): NftCommand[] {
  const tx = spoofTransaction().addTable().flushTable();
  const sets = [
    { name: SPOOF.ports, type: 'ifname' },
    { name: SPOOF.src4, type: ['ifname', 'ipv4_addr'] },
    { name: SPOOF.src6, type: ['ifname', 'ipv6_addr'] },
  ];
  for (const set of sets) tx.addSet(set).flushSet(set);
  // Before anything else sees the frame (conntrack, the inet hooks through br_netfilter, routing).
  tx.addChain({ name: SPOOF.prerouting, type: 'filter', hook: 'prerouting', prio: -300, policy: 'accept' });
  tx.addChain({ name: SPOOF.check });
  const iif = e.meta('iifname');
  tx.addRule(SPOOF.prerouting, [e.match(iif, `@${SPOOF.ports}`), e.jump(SPOOF.check)]);
  tx.addRule(SPOOF.check, [e.match(e.concat(iif, e.payload('ip', 'saddr')), `@${SPOOF.src4}`, '!='), e.drop]);
  const arpSender = e.payload('arp', 'saddr ip');
  tx.addRule(SPOOF.check, [e.match(arpSender, '0.0.0.0', '!='), e.match(e.concat(iif, arpSender), `@${SPOOF.src4}`, '!='), e.drop]);
  tx.addRule(SPOOF.check, [
    e.match(e.payload('ip6', 'saddr'), e.anonSet(['::', e.prefix('fe80::', 10)]), '!='),
    e.match(e.concat(iif, e.payload('ip6', 'saddr')), `@${SPOOF.src6}`, '!='),
    e.drop,
  ]);
  const grouped = new Map<string, Element[]>();
  const byIfname = [...state.endpoints].sort((a, b) => (a.hostIfname < b.hostIfname ? -1 : 1));
  for (const ep of byIfname)
    for (const { set, elem } of endpointElements(ep)) {
      const list = grouped.get(set) ?? [];
      if (list.length === 0) grouped.set(set, list);
      list.push(...elem);
    }
  for (const [set, elem] of [...grouped].sort(([a], [b]) => (a < b ? -1 : 1))) tx.addElements(set, elem);
  return tx.toDocument().nftables;
}
