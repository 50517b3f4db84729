/**
 * Endpoints by network and container, kept with the endpoint list they index (as port-index.ts
 * keeps ports). A connect asked "is it connected already, which eth is next, which veth name is
 * free, what is taken on this bridge" with a walk over every endpoint each; a publish found its
 * endpoint twice the same way (bench: "large host", 500 endpoints). States are never changed in
 * place, so an index keyed by the list object is right for as long as that list lives; one is
 * made the first time a list is asked about, in one walk.
 */
import type { Endpoint } from './state.js';

export interface EndpointIndex {
  /** network -> container -> endpoint. */
  readonly byNetwork: ReadonlyMap<string, ReadonlyMap<string, Endpoint>>;
  /** container -> its endpoints, in the list's order. */
  readonly byContainer: ReadonlyMap<string, readonly Endpoint[]>;
  /** Every host-side interface name. */
  readonly hostIfnames: ReadonlySet<string>;
  /** How many endpoints it holds: a list pushed to in place is indexed again. */
  readonly size: number;
}

const kept = new WeakMap<readonly Endpoint[], EndpointIndex>();

function build(list: readonly Endpoint[]): EndpointIndex {
  const byNetwork = new Map<string, Map<string, Endpoint>>();
  const byContainer = new Map<string, Endpoint[]>();
  const hostIfnames = new Set<string>();
  for (const ep of list) {
    // The first of a pair (a state written by hand may name one twice), as a search would find.
    const net = byNetwork.get(ep.network);
    if (!net) byNetwork.set(ep.network, new Map([[ep.container, ep]]));
    else if (!net.has(ep.container)) net.set(ep.container, ep);
    const mine = byContainer.get(ep.container);
    if (mine) mine.push(ep);
    else byContainer.set(ep.container, [ep]);
    hostIfnames.add(ep.hostIfname);
  }
  return { byNetwork, byContainer, hostIfnames, size: list.length };
}

/** The index of `list`, made on first use (and again if the list grew or shrank in place). */
export function endpointIndex(list: readonly Endpoint[]): EndpointIndex {
  let index = kept.get(list);
  if (index?.size !== list.length) kept.set(list, (index = build(list)));
  return index;
}

/**
 * `list` with `ep` added at its end, its index moved along from the list's own (copies of the maps,
 * and of the one network's map that changes) when it has one: a connect on a host of 500
 * endpoints no longer leaves the next operation to index them all again (bench: "large host").
 */
export function endpointsWith(list: readonly Endpoint[], ep: Endpoint): Endpoint[] {
  const next = [...list, ep];
  const index = kept.get(list);
  if (index?.size !== list.length) return next;
  const byNetwork = new Map(index.byNetwork);
  const net = byNetwork.get(ep.network);
  if (!net?.has(ep.container)) byNetwork.set(ep.network, new Map(net).set(ep.container, ep));
  const byContainer = new Map(index.byContainer).set(ep.container, [...(index.byContainer.get(ep.container) ?? []), ep]);
  kept.set(next, { byNetwork, byContainer, hostIfnames: new Set(index.hostIfnames).add(ep.hostIfname), size: next.length });
  return next;
}

/** `list` without `ep`, its index moved along as endpointsWith does (made afresh when the list names `ep`'s keys twice). */
export function endpointsWithout(list: readonly Endpoint[], ep: Endpoint): Endpoint[] {
  const next = list.filter((e) => e !== ep);
  const index = kept.get(list);
  if (index?.size !== list.length || next.length !== list.length - 1) return next;
  const twice = next.some((e) => e.hostIfname === ep.hostIfname || (e.network === ep.network && e.container === ep.container));
  if (twice) return next;
  const byNetwork = new Map(index.byNetwork);
  const net = new Map(byNetwork.get(ep.network));
  net.delete(ep.container);
  if (net.size > 0) byNetwork.set(ep.network, net);
  else byNetwork.delete(ep.network);
  const byContainer = new Map(index.byContainer);
  const mine = (index.byContainer.get(ep.container) ?? []).filter((e) => e !== ep);
  if (mine.length > 0) byContainer.set(ep.container, mine);
  else byContainer.delete(ep.container);
  const hostIfnames = new Set(index.hostIfnames);
  hostIfnames.delete(ep.hostIfname);
  kept.set(next, { byNetwork, byContainer, hostIfnames, size: next.length });
  return next;
}

/** The endpoint of `container` on `network`, if any. */
export const endpointOf = (list: readonly Endpoint[], network: string, container: string): Endpoint | undefined =>
  endpointIndex(list).byNetwork.get(network)?.get(container);

/** The endpoints of one container (none: an empty list). */
export const endpointsOf = (list: readonly Endpoint[], container: string): readonly Endpoint[] =>
  endpointIndex(list).byContainer.get(container) ?? [];

/** The endpoints on one network, by container. */
export const endpointsOn = (list: readonly Endpoint[], network: string): ReadonlyMap<string, Endpoint> =>
  endpointIndex(list).byNetwork.get(network) ?? new Map();
