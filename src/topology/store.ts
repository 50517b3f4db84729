/** Persists the desired state as JSON: atomic replace by rename, and a lock file so processes never interleave. */
import { renameSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { NftbridgeError, SchemaError } from '../errors.js';
import { emptyState, stateSchema, type State } from './state.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class StateStore {
  readonly file: string;
  private readonly lockFile: string;

  constructor(
    readonly dir: string,
    key: string,
  ) {
    this.file = join(dir, `${key}.json`);
    this.lockFile = join(dir, `${key}.lock`);
  }

  /** The last state read or written, with the identity of the file it came from. */
  private cache: { key: string; state: State } | undefined;

  /**
   * The desired state. The file is parsed with zod whenever it changed (another inode, size or
   * mtime: every write renames a new file in); otherwise the state parsed last time is returned,
   * which callers treat as immutable.
   */
  async read(): Promise<State> {
    let text: string;
    let key: string;
    try {
      const st = await stat(this.file);
      key = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (this.cache?.key === key) return this.cache.state;
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
    this.cache = { key, state: parsed.data };
    return parsed.data;
  }

  /**
   * Write to a temporary file and rename it over the old one: readers never see half a state.
   * Synchronous on purpose: a state with 10,000 ports is a 1 MB write, which takes under a
   * millisecond here but 5 to 10 through libuv's thread pool, on every publish.
   */
  async write(state: State): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(state) + '\n');
    renameSync(tmp, this.file);
    const st = statSync(this.file);
    this.cache = { key: `${st.ino}:${st.size}:${st.mtimeMs}`, state };
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
