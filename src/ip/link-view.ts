/**
 * The links of a namespace with their addresses, as `ip -j -d addr show` lists them, kept current
 * by the kernel's notices (LinkNotices) instead of dumped on every look: on a host of 1,000
 * endpoints a dump is about 1 MB of JSON, while a look with nothing changed is one short exchange
 * with the notices' process (bench: "watch on a large host", idle resync). Only what nftbridge
 * reads is kept (schema.ts addrSchema).
 */
import type { LinkNotice, LinkNotices } from './link-events.js';
import type { LinkAddresses } from './schema.js';
import { ChangeLog, type Changes } from './change-log.js';

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

/** Where notices are applied: a Map by index, or a LinkTable (which keeps its other indexes along). */
export interface LinksByIndex {
  get(index: number): LinkAddresses | undefined;
  set(index: number, link: LinkAddresses): unknown;
  delete(index: number): unknown;
}

/**
 * Applies notices to `links` (by index) in order. False when they cannot be applied faithfully
 * (a master or a renamed link the view cannot name): the caller dumps instead.
 */
export function applyNotices(links: LinksByIndex, notices: readonly LinkNotice[]): boolean {
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

/** The links of one look, by name, with how many links carry each alias. */
export interface LinkSnapshot {
  readonly all: readonly LinkAddresses[];
  readonly byName: ReadonlyMap<string, LinkAddresses>;
  readonly aliases: ReadonlyMap<string, number>;
  /**
   * A view kept by notices: its maps are moved along in place by later looks (copying 1,000
   * entries would cost what the view saves), and this tells which names changed since a version.
   * Read them right after the look. Absent for a plain dump, which nothing changes.
   */
  readonly changes?: Changes;
}

/**
 * Links by index, by name, the count of each alias and the links that are down, kept together:
 * a look then walks nothing (bench: "large host", status). Each change names its links in `touched`.
 */
export class LinkTable implements LinksByIndex {
  private readonly byIndex = new Map<number, LinkAddresses>();
  readonly byName = new Map<string, LinkAddresses>();
  readonly aliases = new Map<string, number>();
  /** Indexes of the links that are down (LinkView.readDown). */
  readonly down = new Set<number>();
  touched = new Set<string>();

  constructor(all: readonly LinkAddresses[]) {
    for (const l of all) this.set(l.ifindex, l);
    this.touched = new Set();
  }

  get all(): LinkAddresses[] {
    return [...this.byIndex.values()];
  }

  get(index: number): LinkAddresses | undefined {
    return this.byIndex.get(index);
  }

  set(index: number, link: LinkAddresses): this {
    this.delete(index);
    this.byIndex.set(index, link);
    this.byName.set(link.ifname, link);
    if (link.ifalias !== undefined) this.aliases.set(link.ifalias, (this.aliases.get(link.ifalias) ?? 0) + 1);
    if (!link.flags.includes('UP')) this.down.add(index);
    this.touched.add(link.ifname);
    return this;
  }

  delete(index: number): boolean {
    const had = this.byIndex.get(index);
    if (!had) return false;
    this.byIndex.delete(index);
    // Two links never share a name, but a dump may list the new one before the old one is gone.
    if (this.byName.get(had.ifname) === had) this.byName.delete(had.ifname);
    if (had.ifalias !== undefined) {
      const n = (this.aliases.get(had.ifalias) ?? 0) - 1;
      if (n > 0) this.aliases.set(had.ifalias, n);
      else this.aliases.delete(had.ifalias);
    }
    this.down.delete(index);
    this.touched.add(had.ifname);
    return true;
  }
}

/**
 * The kernel announces a change of alias or group (and other settings) only on a link that is up
 * (netdev_state_change): a link that is down is read again at every look, one by one up to this
 * many, in a dump beyond. A host nftbridge manages has few (its bridges and veths are up; a
 * container's side leaves the namespace).
 */
const DOWN_READ_ONE_BY_ONE = 8;

/** A dump's links, indexed: nothing moves them along. */
export const plainSnapshot = (all: readonly LinkAddresses[]): LinkSnapshot => {
  const t = new LinkTable(all);
  return { all, byName: t.byName, aliases: t.aliases };
};

export class LinkView {
  private links: LinkTable | undefined;
  private reads = 0;
  /** Names changed by each look that kept the table (a dump: 'all'). */
  private readonly log = new ChangeLog();
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

  /** One look; the kept table itself once there is one (see LinkSnapshot.changes). */
  snapshot(): Promise<LinkSnapshot> {
    const run = this.queue.then(() => this.look());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async look(): Promise<LinkSnapshot> {
    // The first look is a plain dump: a one-shot (a CLI command) never starts the notices' process.
    if (++this.reads === 1) return plainSnapshot(await this.dump());
    // Drained before the dump: whatever changes after it is queued for the next look.
    const notices = await this.notices.drain();
    // Without notices (or with some lost), any mount may have changed.
    this.mounts?.(Array.isArray(notices) ? notices.flatMap((n) => (n.type === 'mounts' ? [n.path] : [])) : 'all');
    if (notices === undefined) {
      // No notices: a table kept so far can no longer be moved along.
      if (this.links) this.log.record('all');
      this.links = undefined;
      return plainSnapshot(await this.dump());
    }
    const table = this.links;
    let kept = false;
    try {
      kept = notices !== 'lost' && table !== undefined && applyNotices(table, notices) && (await this.readDown(table));
    } finally {
      // Given up, or failed midway: the table may be half moved along, and nobody may read it again.
      if (!kept) {
        this.links = undefined;
        this.log.record('all');
      }
    }
    if (kept && table) {
      this.log.record(table.touched);
      table.touched = new Set();
      return this.kept(table);
    }
    const fresh = new LinkTable(await this.dump());
    this.links = fresh;
    return this.kept(fresh);
  }

  private kept(t: LinkTable): LinkSnapshot {
    return {
      get all() {
        return t.all;
      },
      byName: t.byName,
      aliases: t.aliases,
      changes: this.log,
    };
  }

  /** Reads the links that are down afresh (see DOWN_READ_ONE_BY_ONE); false when a dump is due instead. */
  private async readDown(links: LinkTable): Promise<boolean> {
    if (links.down.size > DOWN_READ_ONE_BY_ONE) return false;
    const down = [...links.down].flatMap((i) => links.get(i) ?? []);
    const now = await Promise.all(down.map((l) => this.one(l.ifname)));
    for (const [i, was] of down.entries()) {
      const link = now[i];
      // Gone, or another link under its name now: its notices came after the drain; a dump settles it.
      if (link?.ifindex !== was.ifindex) return false;
      // Read at every look: only a link that differs is a change (a check redoes what changed).
      if (JSON.stringify(link) !== JSON.stringify(was)) links.set(was.ifindex, link);
    }
    return true;
  }
}
