/**
 * Published ports by host port, kept with the port list they index. A publish or unpublish makes
 * a new list from the last one and moves the index along, changed by just its ports, so neither
 * the conflict check nor the lookup of the port to unpublish walks 10,000 ports (bench: "large
 * host", publish and unpublish). States are never changed in place, so an index keyed by the list
 * object is right for as long as that list lives; a list that lost its index to the next one (an
 * operation that failed after planning) gets a new one when it is asked for.
 */
import type { PublishedPort } from './state.js';

export interface PortIndex {
  /** How many ports it holds. */
  size: number;
  /** Every port by the first host port of its binding (ranges too). */
  readonly byStart: Map<number, PublishedPort[]>;
  /** The ranges alone: a range starting below a port may still cover it. */
  readonly ranges: PublishedPort[];
}

const kept = new WeakMap<readonly PublishedPort[], PortIndex>();

/** Adds one port to an index (one being built). */
export function addToPortIndex(index: PortIndex, p: PublishedPort): void {
  const list = index.byStart.get(p.hostPort);
  if (list) list.push(p);
  else index.byStart.set(p.hostPort, [p]);
  if (p.hostPortEnd > p.hostPort) index.ranges.push(p);
  index.size++;
}

function remove(index: PortIndex, p: PublishedPort): void {
  const list = index.byStart.get(p.hostPort);
  const at = list?.indexOf(p) ?? -1;
  if (list && at >= 0) {
    list.splice(at, 1);
    if (list.length === 0) index.byStart.delete(p.hostPort);
    index.size--;
  }
  const r = index.ranges.indexOf(p);
  if (r >= 0) index.ranges.splice(r, 1);
}

/** An index of `ports` alone (a list being built, say). */
export function newPortIndex(ports: readonly PublishedPort[] = []): PortIndex {
  const index: PortIndex = { size: 0, byStart: new Map(), ranges: [] };
  for (const p of ports) addToPortIndex(index, p);
  return index;
}

/**
 * The index of this very list: kept, or made once (linear) and kept. A list whose length changed
 * since (a caller that pushed to it after all) gets a new one.
 */
export function portIndex(ports: readonly PublishedPort[]): PortIndex {
  let index = kept.get(ports);
  if (!index || index.size !== ports.length) kept.set(ports, (index = newPortIndex(ports)));
  return index;
}

/** Ports of `index` whose binding can meet host ports `from`..`to`: those starting in that span, and the ranges. */
export function* portsAt(index: PortIndex, from: number, to: number): Generator<PublishedPort> {
  for (let n = from; n <= to; n++) yield* index.byStart.get(n) ?? [];
  yield* index.ranges;
}

/** A new list: `ports` and then `added`; the index moves to it. */
export function portsWith(ports: readonly PublishedPort[], added: readonly PublishedPort[]): PublishedPort[] {
  const next = [...ports, ...added];
  move(ports, next, (index) => {
    for (const p of added) addToPortIndex(index, p);
  });
  return next;
}

/** Moves the index of `from` (when it is whole) to `to`, changed by `change`. */
function move(from: readonly PublishedPort[], to: readonly PublishedPort[], change: (index: PortIndex) => void): void {
  const index = kept.get(from);
  if (index?.size !== from.length) return;
  kept.delete(from);
  change(index);
  kept.set(to, index);
}

/**
 * A new list: `ports` without `removed` (objects of `ports`, as the unpublish plan finds them);
 * the index moves to it. Undefined when one of them is not in `ports` as that very object.
 */
export function portsWithoutSame(ports: readonly PublishedPort[], removed: readonly PublishedPort[]): PublishedPort[] | undefined {
  // A few: find each (a native scan by identity) and copy around them. Many: one pass with a set.
  let next: PublishedPort[];
  if (removed.length <= 8) {
    const at = removed.map((p) => ports.indexOf(p));
    if (at.some((i) => i < 0) || new Set(at).size !== at.length) return undefined;
    at.sort((a, b) => a - b);
    const parts: PublishedPort[][] = [];
    let from = 0;
    for (const i of at) {
      parts.push(ports.slice(from, i));
      from = i + 1;
    }
    parts.push(ports.slice(from));
    // concat, not flat(): flat takes milliseconds for 10,000 items.
    next = ([] as PublishedPort[]).concat(...parts);
  } else {
    const gone = new Set(removed);
    next = ports.filter((p) => !gone.has(p));
    if (next.length !== ports.length - gone.size) return undefined;
  }
  move(ports, next, (index) => {
    for (const p of removed) remove(index, p);
  });
  return next;
}
