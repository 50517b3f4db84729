/**
 * The links of a namespace with their addresses, as `ip -j -d addr show` lists them, kept current
 * by the kernel's notices (LinkNotices) instead of dumped on every look: on a host of 1,000
 * endpoints a dump is about 1 MB of JSON, while a look with nothing changed is one short exchange
 * with the notices' process (bench: "watch on a large host", idle resync). Only what nftbridge
 * reads is kept (schema.ts addrSchema).
 */
import type { LinkNotice, LinkNotices } from './link-events.js';
import type { LinkAddresses } from './schema.js';

/** Interface flags in the order `ip` prints them (iproute2 print_link_flags); RUNNING is shown as NO-CARRIER's absence. */
const FLAG_NAMES: [number, string][] = [
  [0x8, 'LOOPBACK'],
  [0x2, 'BROADCAST'],
  [0x10, 'POINTOPOINT'],
  [0x1000, 'MULTICAST'],
  [0x80, 'NOARP'],
  [0x200, 'ALLMULTI'],
  [0x100, 'PROMISC'],
  [0x20, 'NOTRAILERS'],
  [0x400, 'MASTER'],
  [0x800, 'SLAVE'],
  [0x4, 'DEBUG'],
  [0x8000, 'DYNAMIC'],
  [0x4000, 'AUTOMEDIA'],
  [0x2000, 'PORTSEL'],
  [0x1, 'UP'],
  [0x10000, 'LOWER_UP'],
  [0x20000, 'DORMANT'],
  [0x40000, 'ECHO'],
];
const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;

export function flagNames(flags: number): string[] {
  const out = flags & IFF_UP && !(flags & IFF_RUNNING) ? ['NO-CARRIER'] : [];
  for (const [bit, name] of FLAG_NAMES) if (flags & bit) out.push(name);
  return out;
}

/** Address scopes as `ip` names them (/etc/iproute2/rt_scopes). */
const SCOPES: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };

/**
 * Applies notices to `links` (by index) in order. False when they cannot be applied faithfully
 * (a master or a renamed link the view cannot name): the caller dumps instead.
 */
export function applyNotices(links: Map<number, LinkAddresses>, notices: readonly LinkNotice[]): boolean {
  for (const n of notices) {
    if (n.type === 'route' || n.type === 'mounts') continue;
    if (n.type === 'link-gone') {
      links.delete(n.index);
      continue;
    }
    const had = links.get(n.index);
    if (n.type === 'link') {
      const master = n.master === 0 ? undefined : links.get(n.master)?.ifname;
      // A port's master is named in every port's entry: a renamed link, or a master not seen, needs a dump.
      if ((n.master !== 0 && master === undefined) || (had && had.ifname !== n.name)) return false;
      links.set(n.index, {
        ifindex: n.index,
        ifname: n.name,
        flags: flagNames(n.flags),
        ...(master !== undefined ? { master } : {}),
        ...(n.alias !== undefined ? { ifalias: n.alias } : {}),
        ...(n.kind !== undefined ? { linkinfo: { info_kind: n.kind } } : {}),
        group: n.group === 0 ? 'default' : String(n.group),
        addr_info: had?.addr_info ?? [],
      });
      continue;
    }
    // An address of a link that is gone (its own notice follows or came first) changes nothing.
    if (!had) continue;
    const family = n.family === 6 ? ('inet6' as const) : ('inet' as const);
    const others = had.addr_info.filter((a) => !(a.family === family && a.local === n.local && a.prefixlen === n.prefixlen));
    const added =
      n.type === 'address' ? [{ family, local: n.local, prefixlen: n.prefixlen, scope: SCOPES[n.scope] ?? String(n.scope) }] : [];
    links.set(n.index, { ...had, addr_info: [...others, ...added] });
  }
  return true;
}

/**
 * The kernel announces a change of alias or group (and other settings) only on a link that is up
 * (netdev_state_change): a link that is down is read again at every look, one by one up to this
 * many, in a dump beyond. A host nftbridge manages has few (its bridges and veths are up; a
 * container's side leaves the namespace).
 */
const DOWN_READ_ONE_BY_ONE = 8;

export class LinkView {
  private links: Map<number, LinkAddresses> | undefined;
  private reads = 0;
  /** Looks run one at a time: a dump must not replace a map another look is bringing up to date. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly dump: () => Promise<LinkAddresses[]>,
    private readonly notices: Pick<LinkNotices, 'drain'>,
    /** One link by name, as the dump would list it; undefined when there is none. */
    private readonly one: (name: string) => Promise<LinkAddresses | undefined>,
    /** Told at each look which mount points changed since the last one (NamespaceCache.forget). */
    private readonly mounts?: (changed: string[] | 'all') => void,
  ) {}

  /** Kept current by notices (a look costs an exchange, not a dump). */
  get current(): boolean {
    return this.links !== undefined;
  }

  read(): Promise<LinkAddresses[]> {
    const run = this.queue.then(() => this.look());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async look(): Promise<LinkAddresses[]> {
    // The first look is a plain dump: a one-shot (a CLI command) never starts the notices' process.
    if (++this.reads === 1) return this.dump();
    // Drained before the dump: whatever changes after it is queued for the next look.
    const notices = await this.notices.drain();
    // Without notices (or with some lost), any mount may have changed.
    this.mounts?.(Array.isArray(notices) ? notices.flatMap((n) => (n.type === 'mounts' ? [n.path] : [])) : 'all');
    if (notices === undefined) return this.dump();
    if (notices !== 'lost' && this.links && applyNotices(this.links, notices) && (await this.readDown(this.links)))
      return [...this.links.values()];
    this.links = undefined;
    const all = await this.dump();
    this.links = new Map(all.map((l) => [l.ifindex, l]));
    return all;
  }

  /** Reads the links that are down afresh (see DOWN_READ_ONE_BY_ONE); false when a dump is due instead. */
  private async readDown(links: Map<number, LinkAddresses>): Promise<boolean> {
    const down = [...links.values()].filter((l) => !l.flags.includes('UP'));
    if (down.length > DOWN_READ_ONE_BY_ONE) return false;
    const now = await Promise.all(down.map((l) => this.one(l.ifname)));
    for (const [i, was] of down.entries()) {
      const link = now[i];
      // Gone, or another link under its name now: its notices came after the drain; a dump settles it.
      if (link?.ifindex !== was.ifindex) return false;
      links.set(was.ifindex, link);
    }
    return true;
  }
}
