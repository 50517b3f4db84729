/**
 * A one-shot `nft -j -f FIFO` started ahead of time, for documents too big for the session
 * (`nft -i` reads through libedit, a byte at a time). Starting nft costs a process start; a spare that already waits on a FIFO takes a document at once, and the next spare starts while
 * nobody waits. nft cannot read a Node pipe as a file (/dev/stdin on a socketpair fails with
 * ENXIO), hence the FIFO.
 */
import { constants, rmSync } from 'node:fs';
import { open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Result } from 'execa';
import { NftError } from '../errors.js';
import { defaultRunner, type Child, type Runner } from '../exec/runner.js';
import { netnsIdentity } from '../exec/session.js';

function hold(child: Child, on: boolean): void {
  const how = on ? 'ref' : 'unref';
  child[how]();
  for (const s of [child.stdout, child.stderr]) (s as unknown as Record<string, (() => void) | undefined> | null)?.[how]?.();
}

/** The pause between an apply and starting the next spare. */
const SPARE_DELAY_MS = 20;

/** How long to wait for a spare to open the FIFO before giving up on it. */
const OPEN_TIMEOUT_MS = 5000;

/** FIFOs of live spares, removed at exit also when nobody called close(). */
const fifos = new Set<string>();
process.once('exit', () => {
  for (const f of fifos) rmSync(f, { force: true });
});

/** FIFOs left by processes that were killed (no exit handler runs then). */
async function removeOrphans(): Promise<void> {
  const names = await readdir(tmpdir()).catch(() => [] as string[]);
  for (const name of names) {
    const pid = Number(/^nftbridge-(\d+)-[0-9a-f]+\.fifo$/.exec(name)?.[1]);
    if (!pid || pid === process.pid || alive(pid)) continue;
    await rm(join(tmpdir(), name), { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class WarmNft {
  private readonly fifo = join(tmpdir(), `nftbridge-${process.pid}-${randomBytes(6).toString('hex')}.fifo`);
  private made: Promise<void> | undefined;
  private spare: Child | undefined;
  /** The namespace the spare entered; a spare in a namespace since deleted must not be used. */
  private spareIdentity: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private preparing = false;
  /** An exchange is in flight: no spare may start then, or two readers would share the FIFO. */
  private busy = false;

  constructor(
    private readonly netns?: string,
    private readonly runner: Runner = defaultRunner,
  ) {}

  private async ensureFifo(): Promise<void> {
    this.made ??= removeOrphans()
      .then(() => this.runner.run('mkfifo', ['-m', '600', this.fifo]))
      .then(() => void fifos.add(this.fifo));
    await this.made;
  }

  private start(): Child {
    const child = this.runner.spawn('nft', ['-j', '-f', this.fifo], { ...(this.netns ? { netns: this.netns } : {}), buffer: true });
    // A spare must not keep a program alive; one in use must.
    hold(child, false);
    return child;
  }

  /**
   * Starts the next spare once the FIFO exists, a little later: starting a process blocks Node's
   * thread for some milliseconds here, which must not delay whoever awaited the apply just done.
   * Errors surface on the next apply.
   */
  prepare(): void {
    if (this.closed || this.spare || this.preparing) return;
    this.preparing = true;
    setTimeout(() => {
      void this.ensureFifo()
        .then(() => {
          if (this.closed || this.spare || this.busy) return;
          this.spareIdentity = netnsIdentity(this.netns);
          this.spare = this.start();
        })
        .catch(() => undefined)
        .finally(() => (this.preparing = false));
    }, SPARE_DELAY_MS).unref();
  }

  /** Applies one document (serialized JSON) as one transaction; throws NftError with nft's message. */
  apply(text: string): Promise<void> {
    const run = this.queue.then(() =>
      this.exchange(text).catch(async (err: unknown) => {
        // The FIFO vanished (somebody cleaned the temp directory): make a new one, once.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.made = undefined;
        this.spare?.kill('SIGKILL');
        this.spare = undefined;
        await this.exchange(text);
      }),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async exchange(text: string): Promise<void> {
    await this.ensureFifo();
    this.busy = true;
    if (this.spare && netnsIdentity(this.netns) !== this.spareIdentity) {
      hold(this.spare, true);
      this.spare.kill('SIGKILL');
      this.spare = undefined;
    }
    const child = this.spare ?? this.start();
    this.spare = undefined;
    hold(child, true);
    let result: Result;
    try {
      const fh = await this.openWriter(child).catch((err: unknown) => {
        child.kill('SIGKILL');
        throw err;
      });
      try {
        await fh.writeFile(text);
      } finally {
        await fh.close();
      }
      result = await child;
    } finally {
      this.busy = false;
      this.prepare();
    }
    if (result.exitCode !== 0)
      throw new NftError('nft', ['-j', '-f', this.fifo], result.exitCode, String(result.stderr ?? '') || String(result.message ?? ''));
  }

  /**
   * Opens the FIFO for writing once `child` has it open for reading. A non-blocking open fails
   * (ENXIO) until then; a blocking one would hang for good if the child died first.
   */
  private async openWriter(child: Child): Promise<FileHandle> {
    let exited = false;
    void child.finally(() => (exited = true));
    const deadline = Date.now() + OPEN_TIMEOUT_MS;
    for (;;) {
      try {
        const probe = await open(this.fifo, constants.O_WRONLY | constants.O_NONBLOCK);
        // A reader is there, so a blocking open returns at once; writes may then block as the
        // pipe fills, which a large document needs.
        const fh = await open(this.fifo, constants.O_WRONLY);
        await probe.close();
        return fh;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
      }
      if (exited || Date.now() > deadline) {
        child.kill('SIGKILL');
        const r = await child;
        throw new NftError('nft', ['-j', '-f', this.fifo], r.exitCode, String(r.stderr ?? '') || 'nft did not open its input');
      }
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue.catch(() => undefined);
    const spare = this.spare;
    this.spare = undefined;
    if (spare) {
      hold(spare, true);
      spare.kill('SIGKILL');
      await spare.catch(() => undefined);
    }
    if (this.made) await rm(this.fifo, { force: true });
    fifos.delete(this.fifo);
  }
}
