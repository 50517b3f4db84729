/**
 * The journal: one line per change since the snapshot of a generation (ports published or
 * unpublished, networks, containers and endpoints added or removed), replayed in linear time on
 * read. A change costs one appended line, not a rewrite of a snapshot that may hold 10,000 ports.
 *
 * Lines written before networks, containers and endpoints were journaled carry only `add` and
 * `remove` (ports); they parse as they are, so today's files need no migration step.
 */
import { z } from 'zod';
import {
  containerSchema,
  endpointSchema,
  networkSchema,
  portSchema,
  type Container,
  type Endpoint,
  type Network,
  type PublishedPort,
  type State,
} from './state.js';

const named = z.object({ add: z.array(networkSchema).default([]), remove: z.array(z.string()).default([]) });
const containers = z.object({ add: z.array(containerSchema).default([]), remove: z.array(z.string()).default([]) });
/** Endpoints are removed by [network, container]. */
const endpoints = z.object({
  add: z.array(endpointSchema).default([]),
  remove: z.array(z.tuple([z.string(), z.string()])).default([]),
});

const journalEntrySchema = z.object({
  gen: z.string(),
  /** Ports published (the line's original shape). */
  add: z.array(portSchema).default([]),
  /** Ports unpublished. */
  remove: z.array(portSchema).default([]),
  networks: named.optional(),
  containers: containers.optional(),
  endpoints: endpoints.optional(),
});
export type JournalEntry = z.infer<typeof journalEntrySchema>;

/** A change of the desired state, as whole objects both ways so that it can be undone by swapping. */
export interface StateChange {
  ports?: { add?: readonly PublishedPort[]; remove?: readonly PublishedPort[] };
  networks?: { add?: readonly Network[]; remove?: readonly Network[] };
  containers?: { add?: readonly Container[]; remove?: readonly Container[] };
  endpoints?: { add?: readonly Endpoint[]; remove?: readonly Endpoint[] };
}

/** The change that undoes `c`. */
export const inverse = (c: StateChange): StateChange => {
  const swap = <T>(x?: { add?: readonly T[]; remove?: readonly T[] }) => (x ? { add: x.remove ?? [], remove: x.add ?? [] } : undefined);
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, swap(v as { add?: unknown[]; remove?: unknown[] })])) as StateChange;
};

/** After this many journal lines, or bytes, the next change rewrites the snapshot. */
export const JOURNAL_MAX_LINES = 256;
export const JOURNAL_MAX_BYTES = 1 << 20;

/** What identifies a binding: two ports with the same key are the same published port. */
export const portKey = (p: PublishedPort) => `${p.network}\0${p.container}\0${p.protocol}\0${p.hostIp ?? ''}\0${p.hostPort}`;

/**
 * Ports minus `remove`, linear in both: a port is keyed only when its host port is among the
 * removed ones, so unpublishing one port of 10,000 is a pass of integer checks, and unpublishing
 * 55,535 is not 55,535 x 55,535 comparisons.
 */
export function withoutPorts(ports: readonly PublishedPort[], remove: readonly PublishedPort[]): PublishedPort[] {
  if (remove.length === 0) return [...ports];
  const byHostPort = new Map<number, Set<string>>();
  for (const r of remove) {
    const keys = byHostPort.get(r.hostPort) ?? new Set<string>();
    if (keys.size === 0) byHostPort.set(r.hostPort, keys);
    keys.add(portKey(r));
  }
  return ports.filter((p) => !byHostPort.get(p.hostPort)?.has(portKey(p)));
}

/** `list` without the items whose key is in `keys`, then `add`; untouched when there is nothing to do. */
function replace<T>(list: T[], keys: readonly string[], keyOf: (t: T) => string, add: readonly T[]): T[] {
  if (keys.length === 0 && add.length === 0) return list;
  const gone = new Set(keys);
  const kept = gone.size === 0 ? list : list.filter((t) => !gone.has(keyOf(t)));
  return add.length === 0 ? kept : [...kept, ...add];
}

const endpointKey = (network: string, container: string) => `${network}\0${container}`;

export const applyEntry = (state: State, entry: JournalEntry): State => ({
  ...state,
  ports: entry.add.length === 0 && entry.remove.length === 0 ? state.ports : [...withoutPorts(state.ports, entry.remove), ...entry.add],
  networks: replace(state.networks, entry.networks?.remove ?? [], (n) => n.name, entry.networks?.add ?? []),
  containers: replace(state.containers, entry.containers?.remove ?? [], (c) => c.name, entry.containers?.add ?? []),
  endpoints: replace(
    state.endpoints,
    (entry.endpoints?.remove ?? []).map(([n, c]) => endpointKey(n, c)),
    (e) => endpointKey(e.network, e.container),
    entry.endpoints?.add ?? [],
  ),
});

/** The journal line for a change (removals by key). */
export function entryOf(gen: string, c: StateChange): JournalEntry {
  const entry: JournalEntry = { gen, add: [...(c.ports?.add ?? [])], remove: [...(c.ports?.remove ?? [])] };
  if (c.networks) entry.networks = { add: [...(c.networks.add ?? [])], remove: (c.networks.remove ?? []).map((n) => n.name) };
  if (c.containers) entry.containers = { add: [...(c.containers.add ?? [])], remove: (c.containers.remove ?? []).map((x) => x.name) };
  if (c.endpoints)
    entry.endpoints = {
      add: [...(c.endpoints.add ?? [])],
      remove: (c.endpoints.remove ?? []).map((e): [string, string] => [e.network, e.container]),
    };
  return entry;
}

/** A journal line parsed, or undefined when it is not one. */
export function parseEntry(line: string): JournalEntry | undefined {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return undefined;
  }
  const entry = journalEntrySchema.safeParse(json);
  return entry.success ? entry.data : undefined;
}
