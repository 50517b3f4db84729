/**
 * A long-lived `nft -j -i` in the host namespace for small, frequent changes (publishing a port):
 * one JSON document per line, each its own transaction, in about a millisecond instead of the
 * cost of starting nft. After each document a `list tables` marker is sent; its answer on stdout
 * says the document is done, and whatever nft wrote to stderr before it is that document's error.
 */
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { NftError } from '../errors.js';
import { inNetns } from '../exec/runner.js';
import { serialize } from './client.js';
import type { NftDocument } from './schema.js';

// Listing arp tables is cheap and its answer cannot be mistaken for a listing of an inet table.
const MARKER = JSON.stringify({ nftables: [{ list: { tables: { family: 'arp' } } }] });
const isMarkerReply = (line: string) => {
  try {
    const items = (JSON.parse(line) as { nftables?: Record<string, { family?: string }>[] }).nftables ?? [];
    return items.every((o) => 'metainfo' in o || o.table?.family === 'arp');
  } catch {
    return false;
  }
};
const PATH = [process.env.PATH ?? '', '/usr/sbin', '/sbin'].join(':');

export class NftSession {
  private readonly child: ResultPromise;
  private stderr = '';
  private waiting: ((line: string | undefined) => void) | undefined;
  private output: string[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(netns?: string) {
    const [file, args] = inNetns('nft', ['-j', '-i'], netns);
    this.child = execa(file, args, { buffer: false, reject: false, env: { PATH, LC_ALL: 'C' }, cleanup: true, stdin: 'pipe' });
    this.child.stderr?.on('data', (d: Buffer) => void (this.stderr += d.toString()));
    if (this.child.stdout)
      createInterface({ input: this.child.stdout }).on('line', (line) => {
        if (isMarkerReply(line)) {
          const w = this.waiting;
          this.waiting = undefined;
          w?.(line);
        } else this.output.push(line);
      });
    void this.child.finally(() => {
      this.closed = true;
      this.waiting?.(undefined);
    });
    // An idle session must not keep a program alive on its own; a request in flight must.
    this.hold(false);
  }

  private hold(on: boolean): void {
    const how = on ? 'ref' : 'unref';
    this.child[how]?.();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr]) (s as unknown as Record<string, (() => void) | undefined> | null)?.[how]?.();
  }

  get alive(): boolean {
    return !this.closed;
  }

  /** Applies one document as one transaction; throws NftError with nft's message. */
  async apply(doc: NftDocument): Promise<void> {
    await this.run(serialize(doc));
  }

  /** Runs one JSON command line (a document, or a list command) and returns what it printed. */
  run(text: string): Promise<string[]> {
    const run = this.queue.then(() => this.exchange(text));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async exchange(text: string): Promise<string[]> {
    if (this.closed) throw new NftError('nft', ['-j', '-i'], undefined, 'nft session has ended');
    this.stderr = '';
    this.output = [];
    const answered = new Promise<string | undefined>((resolve) => (this.waiting = resolve));
    this.hold(true);
    let line: string | undefined;
    try {
      this.child.stdin?.write(`${text}\n${MARKER}\n`);
      line = await answered;
      // nft wrote any error before answering the marker; let the event loop deliver it.
      await new Promise((r) => setImmediate(r));
    } finally {
      this.hold(false);
    }
    if (line === undefined) throw new NftError('nft', ['-j', '-i'], undefined, this.stderr || 'nft session ended');
    if (this.stderr.trim()) throw new NftError('nft', ['-j', '-i'], 1, this.stderr);
    return this.output;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 1000);
    await this.child.catch(() => undefined);
    clearTimeout(timer);
  }
}
