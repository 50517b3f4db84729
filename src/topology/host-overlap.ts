/**
 * A network's subnet must be new to the host: one that overlaps an address or a route the host
 * namespace already has (its uplink's subnet, say) would make the gateway one of the host's own
 * addresses or steal the host's traffic. The default route is not a conflict.
 */
import { ConflictError } from '../errors.js';
import type { LinkAddresses, Route } from '../ip/schema.js';
import { overlaps, parseCidr, parseIp, type Cidr } from './cidr.js';
import type { Network } from './state.js';

export function checkHostOverlap(net: Network, links: readonly LinkAddresses[], routes: readonly Route[]): void {
  const subnets = net.subnets.map((s) => parseCidr('subnet', s.cidr));
  const clash = (c: Cidr, what: string) => {
    for (const s of subnets) if (overlaps(s, c)) throw new ConflictError('subnet', `${s.text} overlaps ${what}`);
  };
  for (const l of links)
    for (const a of l.addr_info) {
      if (a.scope === 'host' || a.local.startsWith('fe80')) continue; // loopback and link-local are refused on their own
      const { family, value } = parseIp('address', a.local);
      clash(
        { family, network: value, prefix: family === 4 ? 32 : 128, text: a.local },
        `the host's address ${a.local}/${a.prefixlen} on ${l.ifname}`,
      );
    }
  for (const r of routes) {
    if (r.dst === 'default' || r.dst.startsWith('fe80') || r.dst.startsWith('ff00') || r.dst.startsWith('multicast')) continue;
    const text = r.dst.includes('/') ? r.dst : `${r.dst}/${r.dst.includes(':') ? 128 : 32}`;
    let c: Cidr;
    try {
      c = parseCidr('route', text);
    } catch {
      continue; // a route kind nftbridge does not need to understand (unreachable, throw, ...)
    }
    clash(c, `the host's route to ${r.dst}${r.dev ? ` via ${r.dev}` : ''}`);
  }
}
