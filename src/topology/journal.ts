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

/** Ports minus `remove`, in one pass over each (a 55,535-port unpublish is linear, not quadratic). */
export function withoutPorts(ports: readonly PublishedPort[], remove: readonly PublishedPort[]): PublishedPort[] {
  if (remove.length === 0) return [...ports];
  const gone = new Set(remove.map(portKey));
  return ports.filter((p) => !gone.has(portKey(p)));
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
