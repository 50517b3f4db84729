/** What a namespace looks like from outside: links, addresses, routes and the whole ruleset, normalised. */
import { execFileSync } from 'node:child_process';

const run = (netns: string, cmd: string, args: string[]) =>
  execFileSync('nsenter', [`--net=/run/netns/${netns}`, cmd, ...args], { encoding: 'utf8' });

const isLinkLocal = (addr: string) => addr.startsWith('fe80');

export interface Snapshot {
  links: unknown[];
  addresses: unknown[];
  routes: unknown[];
  ruleset: unknown;
}

export function snapshot(netns: string): Snapshot {
  const links = (JSON.parse(run(netns, 'ip', ['-j', 'link', 'show'])) as Record<string, unknown>[]).map(
    ({ ifname, flags, master, mtu, link_type }) => ({
      ifname,
      // Carrier flags are the kernel's running state (a fresh bridge has carrier until its first port), not configuration.
      flags: (flags as string[]).filter((f) => !['LOWER_UP', 'NO-CARRIER', 'M-DOWN'].includes(f)),
      master,
      mtu,
      link_type,
    }),
  );
  const addresses = (
    JSON.parse(run(netns, 'ip', ['-j', 'addr', 'show'])) as { ifname: string; addr_info: { local: string; prefixlen: number }[] }[]
  ).map((a) => ({
    ifname: a.ifname,
    addr: a.addr_info
      .filter((i) => !isLinkLocal(i.local))
      .map((i) => `${i.local}/${i.prefixlen}`)
      .sort(),
  }));
  // IPv6 link-local addresses and their routes appear on their own after DAD; they are not ours.
  const routes = (JSON.parse(run(netns, 'ip', ['-j', 'route', 'show', 'table', 'all'])) as { dst: string; flags?: string[] }[])
    .filter((r) => !isLinkLocal(r.dst))
    .map((r) => ({ ...r, flags: (r.flags ?? []).filter((f) => f !== 'linkdown') })); // carrier state again
  const ruleset = (JSON.parse(run(netns, 'nft', ['-j', 'list', 'ruleset'])) as { nftables: unknown[] }).nftables.filter(
    (o) => !((o as object) && 'metainfo' in (o as object)),
  );
  return { links, addresses, routes, ruleset };
}

export function nftTable(netns: string): string {
  try {
    return run(netns, 'nft', ['list', 'table', 'inet', 'nftbridge']);
  } catch {
    return '';
  }
}

/**
 * The owned table as data, for "identical" comparisons: handles dropped and set elements sorted,
 * since a hash set lists its elements in hash order, which may change as the kernel rehashes.
 */
export function nftTableData(netns: string): unknown[] {
  const listing = JSON.parse(run(netns, 'nft', ['-j', 'list', 'table', 'inet', 'nftbridge'])) as {
    nftables: Record<string, Record<string, unknown>>[];
  };
  return listing.nftables
    .filter((o) => !('metainfo' in o))
    .map((o) => {
      const [kind, body] = Object.entries(o)[0] as [string, Record<string, unknown>];
      const { handle: _handle, ...rest } = body;
      if (Array.isArray(rest.elem)) rest.elem = (rest.elem as unknown[]).map((e) => JSON.stringify(e)).sort();
      return { [kind]: rest };
    });
}
