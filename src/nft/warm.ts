/**
 * A one-shot `nft -j -f FIFO` started ahead of time, for documents too big for the session
 * (`nft -i` reads through libedit, a byte at a time). Starting nft costs about 20 ms on this VM;
 * a spare that already waits on a FIFO takes a document at once, and the next spare starts while
 * nobody waits. nft cannot read a Node pipe as a file (/dev/stdin on a socketpair fails with
 * ENXIO), hence the FIFO.
 */
import { constants } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa, type Result, type ResultPromise } from 'execa';
import { NftError } from '../errors.js';
import { CHILD_ENV, inNetns } from '../exec/runner.js';

function hold(child: ResultPromise, on: boolean): void {
  const how = on ? 'ref' : 'unref';
  child[how]();
  for (const s of [child.stdout, child.stderr]) (s as unknown as Record<string, (() => void) | undefined> | null)?.[how]?.();
}

/** How long to wait for a spare to open the FIFO before giving up on it. */
const OPEN_TIMEOUT_MS = 5000;

export class WarmNft {
  private readonly fifo = join(tmpdir(), `nftbridge-${process.pid}-${randomBytes(6).toString('hex')}.fifo`);
  private made: Promise<void> | undefined;
  private spare: ResultPromise | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly netns?: string) {}

  private async ensureFifo(): Promise<void> {
    this.made ??= execa('mkfifo', ['-m', '600', this.fifo], { env: CHILD_ENV }).then(() => undefined);
    await this.made;
  }

  private start(): ResultPromise {
    const [file, args] = inNetns('nft', ['-j', '-f', this.fifo], this.netns);
    const child = execa(file, args, { reject: false, env: CHILD_ENV, stdin: 'ignore', cleanup: true });
    // A spare must not keep a program alive; one in use must.
    hold(child, false);
    return child;
  }

  /** Starts the next spare once the FIFO exists; errors surface on the next apply. */
  prepare(): void {
    if (this.closed || this.spare) return;
    void this.ensureFifo()
      .then(() => {
        if (!this.closed && !this.spare) this.spare = this.start();
      })
      .catch(() => undefined);
  }

  /** Applies one document (serialized JSON) as one transaction; throws NftError with nft's message. */
  apply(text: string): Promise<void> {
    const run = this.queue.then(() => this.exchange(text));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async exchange(text: string): Promise<void> {
    await this.ensureFifo();
    const child = this.spare ?? this.start();
    this.spare = undefined;
    hold(child, true);
    let result: Result;
    try {
      const fh = await this.openWriter(child);
      try {
        await fh.writeFile(text);
      } finally {
        await fh.close();
      }
      result = await child;
    } finally {
      this.prepare();
    }
    if (result.exitCode !== 0) throw new NftError('nft', ['-j', '-f', this.fifo], result.exitCode, String(result.stderr ?? '') || String(result.message ?? ''));
  }

  /**
   * Opens the FIFO for writing once `child` has it open for reading. A non-blocking open fails
   * (ENXIO) until then; a blocking one would hang for good if the child died first.
   */
  private async openWriter(child: ResultPromise): Promise<FileHandle> {
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
  }
}
