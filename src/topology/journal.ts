/**
 * The journal of port changes: one line per publish or unpublish since the snapshot of a
 * generation, replayed in linear time on read.
 */
import { z } from 'zod';
import { portSchema, type PublishedPort, type State } from './state.js';

/**
 * A journal line: ports added or removed since the snapshot of generation `gen`. Publishing a port
 * appends one line instead of rewriting a snapshot that may hold 10,000 ports.
 */
const journalEntrySchema = z.object({
  gen: z.string(),
  add: z.array(portSchema).default([]),
  remove: z.array(portSchema).default([]),
});
export type JournalEntry = z.infer<typeof journalEntrySchema>;

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

export const applyEntry = (state: State, entry: JournalEntry): State => ({
  ...state,
  ports: [...withoutPorts(state.ports, entry.remove), ...entry.add],
});

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
