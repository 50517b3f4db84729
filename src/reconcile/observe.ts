/** Everything that differs from the desired state: the tables, the links, and orphans of interrupted operations. */
import type { Ip } from '../ip/ip.js';
import type { NamespaceProbe } from '../ip/netns.js';
import type { Intent } from '../topology/intent.js';
import type { State } from '../topology/state.js';
import { observeTable, type Drift, type TableObservation, type TableReader } from './drift.js';
import { checkLinksKept } from './link-memo.js';
import { readHostLinks, type HostLinks } from './links.js';
import { findOrphans, type Orphans } from './orphans.js';

/** What identifies the owner of links and what it was doing when interrupted, for orphan detection. */
export interface OwnerContext {
  mark: string;
  intent?: Intent | undefined;
  /** The whole desired state, when `state` leaves out absent containers (the controller's view). */
  state?: State;
}

export interface Observation extends TableObservation {
  /** The one read of links and routes, for a repair that follows. */
  links: HostLinks;
}

const orphanDrift = (o: Orphans): Drift[] => [
  ...o.links.map(
    (name): Drift => ({
      kind: 'orphan',
      subject: name,
      reason: 'link made by nftbridge that the state does not know (an interrupted operation)',
    }),
  ),
  ...o.netns.map((name): Drift => ({ kind: 'orphan', subject: name, reason: 'namespace created by an interrupted operation' })),
];

/** Reads the kernel once (tables, links, addresses, routes) and lists every difference from `state`. */
export interface ObserveContext {
  ip: Ip;
  firewall: TableReader;
  namespaces?: NamespaceProbe;
  owner?: OwnerContext;
}

export async function observeAll(ctx: ObserveContext, state: State): Promise<Observation> {
  const [table, links] = await Promise.all([observeTable(ctx, state), readHostLinks(ctx.ip, state, ctx.namespaces)]);
  const owner = ctx.owner;
  const checked = checkLinksKept(state, links, owner?.mark);
  const drift = [...table.drift, ...checked.drift];
  if (!owner) return { ...table, drift, links };
  // Every link carrying the mark is one the state names, and no operation was interrupted: none
  // is an orphan, without a second walk over every link.
  const none =
    (owner.state === undefined || owner.state === state) &&
    (owner.intent === undefined || owner.intent.links.length + owner.intent.netns.length === 0) &&
    checked.marked === (links.aliases.get(owner.mark) ?? 0);
  const orphans = none
    ? { links: [], netns: [] }
    : findOrphans(owner.state ?? state, links.all, owner.mark, owner.intent, links.namespaces);
  return { ...table, drift: [...drift, ...orphanDrift(orphans)], orphans, links };
}

export async function observeDrift(ctx: ObserveContext, state: State): Promise<Drift[]> {
  return (await observeAll(ctx, state)).drift;
}
