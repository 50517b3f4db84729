/**
 * Persists the desired state as JSON: a snapshot replaced atomically by rename, a journal of port
 * changes appended to it, and the cross-process lock (./lock.ts) so processes never interleave.
 *
 * Nothing in the directory is trusted unless only its owner (the caller) can write it: root's
 * `down` would otherwise delete whatever a planted state names. Files are 0600 and opened without
 * following symlinks.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StateFileError, UnsafeStateDirError } from '../errors.js';
import { readText, removeMadeDirs, replaceFile, writeAll } from './files.js';
import { acquireLock } from './lock.js';
import { applyEntry, entryOf, JOURNAL_MAX_BYTES, JOURNAL_MAX_LINES, parseEntry, type StateChange } from './journal.js';
import { emptyState, stateSchema, type PublishedPort, type State } from './state.js';

export { inverse, portKey, withoutPorts, type StateChange } from './journal.js';

const identity = (path: string): string => {
  try {
    const st = statSync(path);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '-';
    throw err;
  }
};

/** Parsed snapshot and journal; `journalBytes` is where the last complete journal line ends. */
interface Loaded {
  state: State;
  gen: string;
  lines: number;
  journalBytes: number;
}

export class StateStore {
  readonly file: string;
  /** Port changes since the snapshot; replayed on read, folded into the snapshot now and then. */
  readonly journal: string;
  readonly lockFile: string;
  /** What an operation in flight is creating (see intent.ts). */
  readonly intentFile: string;
  /** The host firewall's last look, for the next process (hostfw/scan-memo.ts). */
  readonly hostFirewallFile: string;

  constructor(
    readonly dir: string,
    key: string,
  ) {
    this.file = join(dir, `${key}.json`);
    this.intentFile = join(dir, `${key}.intent`);
    this.hostFirewallFile = join(dir, `${key}.hostfw`);
    this.journal = join(dir, `${key}.journal`);
    this.lockFile = join(dir, `${key}.lock`);
  }

  /** The last state read or written, with the identity of the files it came from. */
  private cache: (Loaded & { key: string }) | undefined;

  private filesKey(): string {
    return `${identity(this.file)}|${identity(this.journal)}`;
  }

  /**
   * Refuses a directory that someone other than the caller could write (group or world writable,
   * or owned by another user); a missing one is fine (it is created 0700 on first write).
   */
  checkDir(): void {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    if (!st.isDirectory()) throw new UnsafeStateDirError(this.dir, 'is not a directory');
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid)
      throw new UnsafeStateDirError(this.dir, `is owned by uid ${st.uid}, not by the caller (uid ${uid})`);
    if ((st.mode & 0o022) !== 0)
      throw new UnsafeStateDirError(this.dir, `is writable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod go-w it`);
  }

  /** Makes the directory if missing; returns the first directory it had to make, if any. */
  private ensureDir(): string | undefined {
    const made = mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.checkDir();
    return made;
  }

  /**
   * After an operation that found no state directory and wrote no state (bad input, say): removes
   * the lock file (while holding it; see lock.ts) and the directories it made, so nothing is left.
   */
  private removeUnused(made: string): void {
    if ([this.file, this.journal, this.intentFile].some((f) => identity(f) !== '-')) return;
    rmSync(this.lockFile, { force: true });
    removeMadeDirs(this.dir, made);
  }

  /**
   * The desired state: the snapshot and its journal, parsed with zod whenever either changed
   * (another inode, size or mtime); otherwise the state parsed last time is returned, which
   * callers treat as immutable. Anything unreadable is a StateFileError naming file and line.
   */
  async read(): Promise<State> {
    return this.load().state;
  }

  private load(): Loaded {
    const key = this.filesKey();
    if (this.cache?.key === key) return this.cache;
    this.checkDir();
    const loaded = this.parse();
    this.cache = { key, ...loaded };
    return loaded;
  }

  private parse(strict = true): Loaded & { badLine?: number } {
    const text = readText(this.file);
    if (text === undefined) return { state: emptyState(), gen: '', lines: 0, journalBytes: 0 };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new StateFileError(this.file, undefined, 'is not valid JSON');
    }
    const parsed = stateSchema.safeParse(json);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new StateFileError(this.file, undefined, `unexpected shape at ${i?.path.join('.') || '(root)'}: ${i?.message ?? '?'}`);
    }
    const gen = parsed.data.generation ?? '';
    let state: State = parsed.data;
    let lines = 0;
    const journal = readText(this.journal) ?? '';
    // A line without its newline was torn by a crash or a full disk mid-append: it never
    // happened, and the next append truncates it first.
    const end = journal.lastIndexOf('\n') + 1;
    let journalBytes = 0;
    let n = 0;
    for (const line of journal.slice(0, end).split('\n').slice(0, -1)) {
      n++;
      const entry = parseEntry(line);
      if (!entry) {
        if (strict) throw new StateFileError(this.journal, n, 'is not a journal entry');
        return { state, gen, lines, journalBytes, badLine: n };
      }
      journalBytes += Buffer.byteLength(line) + 1;
      if (entry.gen !== gen) continue; // left over from an older snapshot
      state = applyEntry(state, entry);
      lines++;
    }
    return { state, gen, lines, journalBytes };
  }

  /**
   * Write a new snapshot and start an empty journal: a temporary file created exclusively, synced,
   * renamed over the old one, and the directory synced, so a crash leaves the old state or the new
   * one, never half of either. Synchronous on purpose: a state with 10,000 ports is a 1 MB write,
   * faster in one call than through libuv's thread pool (bench: publish rows).
   */
  async write(state: State): Promise<void> {
    this.ensureDir();
    const gen = randomBytes(8).toString('hex');
    replaceFile(this.file, `${JSON.stringify({ ...state, generation: gen })}\n`, true);
    // Entries of the old generation are ignored from now on; removing the file just saves space.
    rmSync(this.journal, { force: true });
    this.cache = { key: this.filesKey(), state, gen, lines: 0, journalBytes: 0 };
  }

  /** Records published ports added or removed (see change). */
  async changePorts(next: State, change: { add?: readonly PublishedPort[]; remove?: readonly PublishedPort[] }): Promise<void> {
    return this.change(next, { ports: change });
  }

  /**
   * Records a change (`next` is the state with it): one appended line, or a new snapshot when the
   * journal is long or the state on disk is not the one this store last saw. A change costs the
   * same on a host of 10,000 ports as on an empty one.
   */
  async change(next: State, change: StateChange): Promise<void> {
    const cache = this.cache;
    // No snapshot yet (gen ''): the journal belongs to one, so the first change writes it.
    if (!cache || cache.gen === '' || cache.key !== this.filesKey() || cache.lines >= JOURNAL_MAX_LINES) return this.write(next);
    const line = `${JSON.stringify(entryOf(cache.gen, change))}\n`;
    const bytes = Buffer.byteLength(line);
    if (cache.journalBytes + bytes > JOURNAL_MAX_BYTES) return this.write(next);
    const fd = openSync(this.journal, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    try {
      // Whatever follows the last complete line is a torn append: cut it, or the new line would be
      // glued to it and the journal unreadable for good.
      if (fstatSync(fd).size !== cache.journalBytes) ftruncateSync(fd, cache.journalBytes);
      writeAll(fd, line, cache.journalBytes);
    } catch (err) {
      ftruncateSync(fd, cache.journalBytes);
      throw err;
    } finally {
      closeSync(fd);
    }
    this.cache = { key: this.filesKey(), state: next, gen: cache.gen, lines: cache.lines + 1, journalBytes: cache.journalBytes + bytes };
  }

  /**
   * `nftbridge recover`: keeps what can be read (the snapshot and the journal up to its first
   * unreadable line) as a new snapshot; an unreadable snapshot is moved aside and the state starts
   * empty (`apply` then removes what nftbridge had made, as orphans). Call with the lock held.
   */
  async recover(): Promise<{ state: State; dropped: string[] }> {
    const dropped: string[] = [];
    let loaded: Loaded & { badLine?: number };
    try {
      loaded = this.parse(false);
    } catch (err) {
      if (!(err instanceof StateFileError)) throw err;
      const aside = `${this.file}.broken-${Date.now()}`;
      renameSync(this.file, aside);
      dropped.push(`${this.file} (moved to ${aside}): ${err.reason}`);
      rmSync(this.journal, { force: true });
      loaded = { state: emptyState(), gen: '', lines: 0, journalBytes: 0 };
    }
    if (loaded.badLine !== undefined) dropped.push(`${this.journal} from line ${loaded.badLine} on`);
    this.cache = undefined;
    await this.write(loaded.state);
    return { state: loaded.state, dropped };
  }

  /** Operations of this process in flight, in order; the file lock orders them across processes. */
  private queue: Promise<unknown> = Promise.resolve();

  /** Takes the lock (this process's queue first, then the cross-process flock) and returns its release. */
  async acquire(timeoutMs?: number): Promise<() => Promise<void>> {
    let releaseLocal!: () => void;
    const mine = new Promise<void>((r) => (releaseLocal = r));
    const previous = this.queue;
    this.queue = previous.then(() => mine);
    await previous.catch(() => undefined);
    try {
      let made: string | undefined;
      const releaseFile = await acquireLock(this.lockFile, timeoutMs, () => {
        made = this.ensureDir();
      });
      return async () => {
        if (made !== undefined) this.removeUnused(made);
        await releaseFile();
        releaseLocal();
      };
    } catch (err) {
      releaseLocal();
      throw err;
    }
  }

  /** Runs `fn` holding the lock, so no operation (of this or another process) interleaves. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      await release();
    }
  }

  /** Resolves once the operations this process has queued (rollbacks included) are over. */
  async settled(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  /** The state last read or written by this store, without touching the disk. */
  lastKnown(): State | undefined {
    return this.cache?.state;
  }
}
