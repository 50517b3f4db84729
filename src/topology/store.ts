/**
 * Persists the desired state as JSON: a snapshot replaced atomically by rename, a journal of port
 * changes appended to it, and a lock file so processes never interleave.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { NftbridgeError, SchemaError } from '../errors.js';
import { emptyState, portSchema, stateSchema, type PublishedPort, type State } from './state.js';

function applyEntry(state: State, entry: JournalEntry): State {
  const ports = entry.remove.length ? state.ports.filter((p) => !entry.remove.some((r) => samePort(p, r))) : [...state.ports];
  ports.push(...entry.add);
  return { ...state, ports };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A journal line: ports added or removed since the snapshot of generation `gen`. Publishing a port
 * appends one line instead of rewriting a snapshot that may hold 10,000 ports.
 */
const journalEntrySchema = z.object({
  gen: z.string(),
  add: z.array(portSchema).default([]),
  remove: z.array(portSchema).default([]),
});
type JournalEntry = z.infer<typeof journalEntrySchema>;

/** After this many journal lines the next change rewrites the snapshot. */
const JOURNAL_MAX = 256;

const samePort = (a: PublishedPort, b: PublishedPort) =>
  a.network === b.network && a.container === b.container && a.protocol === b.protocol && a.hostIp === b.hostIp && a.hostPort === b.hostPort;

const identity = (path: string): string => {
  try {
    const st = statSync(path);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '-';
    throw err;
  }
};

export class StateStore {
  readonly file: string;
  /** Port changes since the snapshot; replayed on read, folded into the snapshot now and then. */
  readonly journal: string;
  private readonly lockFile: string;

  constructor(
    readonly dir: string,
    key: string,
  ) {
    this.file = join(dir, `${key}.json`);
    this.journal = join(dir, `${key}.journal`);
    this.lockFile = join(dir, `${key}.lock`);
  }

  /** The last state read or written, with the identity of the files it came from. */
  private cache: { key: string; state: State; gen: string; lines: number } | undefined;

  private filesKey(): string {
    return `${identity(this.file)}|${identity(this.journal)}`;
  }

  /**
   * The desired state: the snapshot and its journal, parsed with zod whenever either changed
   * (another inode, size or mtime); otherwise the state parsed last time is returned, which
   * callers treat as immutable.
   */
  async read(): Promise<State> {
    const key = this.filesKey();
    if (this.cache?.key === key) return this.cache.state;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new NftbridgeError(`${this.file}: not valid JSON`, { cause: err });
    }
    const parsed = stateSchema.safeParse(json);
    if (!parsed.success) throw new SchemaError(this.file, parsed.error.issues);
    const gen = parsed.data.generation ?? '';
    let state: State = parsed.data;
    let lines = 0;
    const journal = await readFile(this.journal, 'utf8').catch(() => '');
    // A line without its newline was torn by a crash mid-append: it never happened.
    for (const line of journal.split('\n').slice(0, -1)) {
      const entry = journalEntrySchema.safeParse(JSON.parse(line));
      if (!entry.success) throw new SchemaError(this.journal, entry.error.issues);
      if (entry.data.gen !== gen) continue; // left over from an older snapshot
      state = applyEntry(state, entry.data);
      lines++;
    }
    this.cache = { key, state, gen, lines };
    return state;
  }

  /**
   * Write a new snapshot (to a temporary file renamed over the old one: readers never see half a
   * state) and start an empty journal. Synchronous on purpose: a state with 10,000 ports is a
   * 1 MB write, under a millisecond here but 5 to 10 through libuv's thread pool.
   */
  async write(state: State): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const gen = randomBytes(8).toString('hex');
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ ...state, generation: gen }) + '\n');
    renameSync(tmp, this.file);
    // Entries of the old generation are ignored from now on; removing the file just saves space.
    rmSync(this.journal, { force: true });
    this.cache = { key: this.filesKey(), state, gen, lines: 0 };
  }

  /**
   * Records published ports added or removed: one appended line, or a new snapshot when the
   * journal is long or the state on disk is not the one this store last saw.
   */
  async changePorts(next: State, change: { add?: readonly PublishedPort[]; remove?: readonly PublishedPort[] }): Promise<void> {
    const cache = this.cache;
    if (!cache || cache.key !== this.filesKey() || cache.lines >= JOURNAL_MAX) return this.write(next);
    const entry: JournalEntry = { gen: cache.gen, add: [...(change.add ?? [])], remove: [...(change.remove ?? [])] };
    appendFileSync(this.journal, JSON.stringify(entry) + '\n');
    this.cache = { key: this.filesKey(), state: next, gen: cache.gen, lines: cache.lines + 1 };
  }

  /** Runs `fn` holding the cross-process lock. */
  async withLock<T>(fn: () => Promise<T>, timeoutMs?: number): Promise<T> {
    const release = await this.acquire(timeoutMs);
    try {
      return await fn();
    } finally {
      await release();
    }
  }

  /** Takes the cross-process lock and returns its release; a lock left by a dead process is taken over. */
  async acquire(timeoutMs = 60_000): Promise<() => Promise<void>> {
    await mkdir(this.dir, { recursive: true });
    const deadline = Date.now() + timeoutMs;
    for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
      try {
        const fh = await open(this.lockFile, 'wx');
        await fh.writeFile(String(process.pid));
        await fh.close();
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (await this.lockIsStale()) {
          await rm(this.lockFile, { force: true });
          continue;
        }
        if (Date.now() > deadline) throw new NftbridgeError(`timed out waiting for the state lock ${this.lockFile}`);
        await sleep(delay);
      }
    }
    return () => rm(this.lockFile, { force: true });
  }

  private async lockIsStale(): Promise<boolean> {
    const pid = Number((await readFile(this.lockFile, 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 0) return false; // being written right now
    try {
      process.kill(pid, 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
}
