/** Everything that differs from the desired state: the tables, the links, and orphans of interrupted operations. */
import type { Ip } from '../ip/ip.js';
import type { NamespaceProbe } from '../ip/netns.js';
import type { Intent } from '../topology/intent.js';
import type { State } from '../topology/state.js';
import { observeTable, type Drift, type TableObservation, type TableReader } from './drift.js';
import { linkDrift, readHostLinks, type HostLinks } from './links.js';
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
  const drift = [...table.drift, ...linkDrift(state, links)];
  if (!ctx.owner) return { ...table, drift, links };
  const orphans = findOrphans(ctx.owner.state ?? state, links.all, ctx.owner.mark, ctx.owner.intent, links.namespaces);
  return { ...table, drift: [...drift, ...orphanDrift(orphans)], orphans, links };
}

export async function observeDrift(ctx: ObserveContext, state: State): Promise<Drift[]> {
  return (await observeAll(ctx, state)).drift;
}
