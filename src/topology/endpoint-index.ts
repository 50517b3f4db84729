/**
 * Endpoints by network and container, kept with the endpoint list they index (as port-index.ts
 * keeps ports). A connect asked "is it connected already, which eth is next, which veth name is
 * free, which address is free, what is taken on this bridge" with a walk over every endpoint each;
 * a publish found its endpoint twice the same way (bench: "large host", 500 endpoints). States
 * are never changed in place, so an index keyed by the list object is right for as long as that
 * list lives; one is made the first time a list is asked about, in one walk.
 *
 * A connect or disconnect moves the index from the list it had to the new one, changed in place by
 * that one endpoint: copying its maps cost a connect on one bridge of 1,000 endpoints about a
 * millisecond of its own CPU, and IPAM's walk to the lowest free address another (bench: "connect
 * by endpoints on one bridge"). The old list gets an index of its own again if it is asked (an
 * operation that failed after planning). A list that names a pair, a host interface or an address
 * on one network twice (a hand-written state) is indexed afresh instead of moved.
 */
import { formatIp, parseIp, type IpFamily } from './cidr.js';
import type { Endpoint } from './state.js';

export interface EndpointIndex {
  /** network -> container -> endpoint. */
  readonly byNetwork: ReadonlyMap<string, ReadonlyMap<string, Endpoint>>;
  /** container -> its endpoints, in the list's order. */
  readonly byContainer: ReadonlyMap<string, readonly Endpoint[]>;
  /** Every host-side interface name. */
  readonly hostIfnames: ReadonlySet<string>;
  /** network -> the addresses its endpoints hold. */
  readonly addresses: ReadonlyMap<string, ReadonlySet<string>>;
  /** How many endpoints it holds: a list pushed to in place is indexed again. */
  readonly size: number;
}

interface Kept extends EndpointIndex {
  readonly byNetwork: Map<string, Map<string, Endpoint>>;
  readonly byContainer: Map<string, readonly Endpoint[]>;
  readonly hostIfnames: Set<string>;
  readonly addresses: Map<string, Set<string>>;
  size: number;
  /** The list names something twice: its index is never moved. */
  twice: boolean;
  /**
   * network -> key (lowestFree's) -> an address below which every host address of the subnet is
   * held by an endpoint of the list or reserved: where IPAM's search for the lowest free one starts.
   */
  readonly freeFrom: Map<string, Map<string, bigint>>;
}

const kept = new WeakMap<readonly Endpoint[], Kept>();

/** Adds `ep`; false when the index already names one of its keys (then the list names it twice). */
function add(index: Kept, ep: Endpoint): boolean {
  let whole = true;
  const net = index.byNetwork.get(ep.network);
  // The first of a pair (a state written by hand may name one twice), as a search would find.
  if (!net) index.byNetwork.set(ep.network, new Map([[ep.container, ep]]));
  else if (!net.has(ep.container)) net.set(ep.container, ep);
  else whole = false;
  index.byContainer.set(ep.container, [...(index.byContainer.get(ep.container) ?? []), ep]);
  if (index.hostIfnames.has(ep.hostIfname)) whole = false;
  index.hostIfnames.add(ep.hostIfname);
  let addrs = index.addresses.get(ep.network);
  if (!addrs) index.addresses.set(ep.network, (addrs = new Set()));
  for (const a of ep.addresses) {
    if (addrs.has(a)) whole = false;
    addrs.add(a);
  }
  index.size++;
  return whole;
}

const addressValue = (address: string): bigint | undefined => {
  try {
    return parseIp('address', address).value;
  } catch {
    return undefined;
  }
};

/** Removes `ep` from an index that names nothing twice. */
function remove(index: Kept, ep: Endpoint): void {
  const net = index.byNetwork.get(ep.network);
  net?.delete(ep.container);
  if (net?.size === 0) index.byNetwork.delete(ep.network);
  const mine = (index.byContainer.get(ep.container) ?? []).filter((e) => e !== ep);
  if (mine.length > 0) index.byContainer.set(ep.container, mine);
  else index.byContainer.delete(ep.container);
  index.hostIfnames.delete(ep.hostIfname);
  const addrs = index.addresses.get(ep.network);
  for (const a of ep.addresses) addrs?.delete(a);
  if (addrs?.size === 0) index.addresses.delete(ep.network);
  // An address given back: the lowest free one may be it (one that does not parse: search from the first).
  const hints = index.freeFrom.get(ep.network);
  if (hints)
    for (const a of ep.addresses) {
      const value = addressValue(a);
      if (value === undefined) {
        index.freeFrom.delete(ep.network);
        break;
      }
      for (const [key, from] of hints) if (value < from) hints.set(key, value);
    }
  index.size--;
}

function build(list: readonly Endpoint[]): Kept {
  const index: Kept = {
    byNetwork: new Map(),
    byContainer: new Map(),
    hostIfnames: new Set(),
    addresses: new Map(),
    size: 0,
    twice: false,
    freeFrom: new Map(),
  };
  for (const ep of list) if (!add(index, ep)) index.twice = true;
  return index;
}

function indexOf(list: readonly Endpoint[]): Kept {
  let index = kept.get(list);
  if (index?.size !== list.length) kept.set(list, (index = build(list)));
  return index;
}

/** The index of `list`, made on first use (and again if the list grew or shrank in place). */
export function endpointIndex(list: readonly Endpoint[]): EndpointIndex {
  return indexOf(list);
}

/** `list` with `ep` added at its end, the list's index moved to it when it has one (see above). */
export function endpointsWith(list: readonly Endpoint[], ep: Endpoint): Endpoint[] {
  const next = [...list, ep];
  const index = kept.get(list);
  if (index?.size !== list.length || index.twice) return next;
  const clash =
    index.byNetwork.get(ep.network)?.has(ep.container) ||
    index.hostIfnames.has(ep.hostIfname) ||
    ep.addresses.some((a) => index.addresses.get(ep.network)?.has(a));
  // The new list names something twice: it gets an index of its own; the old one keeps its own.
  if (clash) return next;
  kept.delete(list);
  add(index, ep);
  kept.set(next, index);
  return next;
}

/** `list` without `ep`, the list's index moved to it as endpointsWith does. */
export function endpointsWithout(list: readonly Endpoint[], ep: Endpoint): Endpoint[] {
  const next = list.filter((e) => e !== ep);
  const index = kept.get(list);
  if (index?.size !== list.length || index.twice || next.length !== list.length - 1) return next;
  kept.delete(list);
  remove(index, ep);
  kept.set(next, index);
  return next;
}

/** The endpoint of `container` on `network`, if any. */
export const endpointOf = (list: readonly Endpoint[], network: string, container: string): Endpoint | undefined =>
  indexOf(list).byNetwork.get(network)?.get(container);

/** The endpoints of one container (none: an empty list). */
export const endpointsOf = (list: readonly Endpoint[], container: string): readonly Endpoint[] =>
  indexOf(list).byContainer.get(container) ?? [];

/**
 * The endpoints on one network, by container. The index's own map: read it before the list's
 * next endpointsWith or endpointsWithout, which change it in place.
 */
export const endpointsOn = (list: readonly Endpoint[], network: string): ReadonlyMap<string, Endpoint> =>
  indexOf(list).byNetwork.get(network) ?? new Map();

/** The addresses held by endpoints of one network (read it as endpointsOn). */
export const addressesOn = (list: readonly Endpoint[], network: string): ReadonlySet<string> =>
  indexOf(list).addresses.get(network) ?? new Set();

/**
 * The lowest host address of the range that no endpoint of the network holds, `reserved` does not
 * name (the gateways) and `busy` does not say is in use (seen on the segment), as Docker's IPAM
 * hands out; undefined when there is none within `limit` of the first. The search starts where the
 * last one under the same `key` found every address below held or reserved; `busy` alone is asked
 * again every time (what it names comes and goes). `key` names the subnet and what `reserved` says.
 */
export function lowestFree(
  list: readonly Endpoint[],
  network: string,
  key: string,
  range: { family: IpFamily; first: bigint; last: bigint; limit: bigint },
  reserved: (address: string) => boolean,
  busy: (address: string) => boolean,
): string | undefined {
  const index = indexOf(list);
  const held = index.addresses.get(network);
  let hints = index.freeFrom.get(network);
  if (!hints) index.freeFrom.set(network, (hints = new Map()));
  let from = hints.get(key) ?? range.first;
  if (from < range.first) from = range.first;
  let solid = true;
  for (let v = from; v <= range.last && v < range.limit; v++) {
    const text = formatIp(range.family, v);
    if (held?.has(text) === true || reserved(text)) continue;
    if (solid) hints.set(key, v);
    solid = false;
    if (!busy(text)) return text;
  }
  return undefined;
}
