/**
 * A long-lived `nft -j -i` in the host namespace for small, frequent changes (publishing a port)
 * and listings: one JSON document per line, each its own transaction, in about a millisecond
 * instead of the cost of starting nft.
 *
 * Completion is detected with a marker line after each document: a command with an invalid family
 * carrying a sequence number. nft rejects it while parsing, before touching its cache (a valid
 * marker such as a listing would make nft refetch every set element on the next change), and
 * prints "Unknown family 'nftbridge-marker-N'". Whatever nft wrote to stderr before that line is
 * the document's error; what it wrote to stdout is the document's output.
 */
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { NftError } from '../errors.js';
import { CHILD_ENV, inNetns } from '../exec/runner.js';
import { serialize } from './client.js';
import type { NftDocument } from './schema.js';

const marker = (seq: number) => JSON.stringify({ nftables: [{ flush: { table: { family: `nftbridge-marker-${seq}`, name: 'x' } } }] });
const markerStart = (seq: number) => `internal:0:0-0: Error: Unknown family 'nftbridge-marker-${seq}'.`;
const MARKER_END = 'Parsing command array at index 0 failed.\n';

export class NftSession {
  private readonly child: ResultPromise;
  private stderr = '';
  private output: string[] = [];
  private seq = 0;
  private pending: { seq: number; resolve: (r: { error: string; output: string[] } | undefined) => void } | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(netns?: string) {
    const [file, args] = inNetns('nft', ['-j', '-i'], netns);
    this.child = execa(file, args, { buffer: false, reject: false, env: CHILD_ENV, cleanup: true, stdin: 'pipe' });
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      this.check();
    });
    if (this.child.stdout) createInterface({ input: this.child.stdout }).on('line', (line) => this.output.push(line));
    void this.child.finally(() => {
      this.closed = true;
      this.pending?.resolve(undefined);
    });
    // An idle session must not keep a program alive on its own; a request in flight must.
    this.hold(false);
  }

  get alive(): boolean {
    return !this.closed;
  }

  private hold(on: boolean): void {
    const how = on ? 'ref' : 'unref';
    this.child[how]?.();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr]) (s as unknown as Record<string, (() => void) | undefined> | null)?.[how]?.();
  }

  /** Has the marker of the request in flight arrived completely? */
  private check(): void {
    const p = this.pending;
    if (!p) return;
    const at = this.stderr.indexOf(markerStart(p.seq));
    if (at < 0) return;
    const end = this.stderr.indexOf(MARKER_END, at);
    if (end < 0) return;
    const error = this.stderr.slice(0, at);
    this.stderr = this.stderr.slice(end + MARKER_END.length).replace(/^\n/, '');
    this.pending = undefined;
    // Output was written before the marker's error; let the event loop deliver the last of it.
    setImmediate(() => {
      const output = this.output;
      this.output = [];
      p.resolve({ error, output });
    });
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
    const seq = ++this.seq;
    this.output = [];
    const answered = new Promise<{ error: string; output: string[] } | undefined>((resolve) => (this.pending = { seq, resolve }));
    this.hold(true);
    try {
      this.child.stdin?.write(`${text}\n${marker(seq)}\n`);
      const result = await answered;
      if (!result) throw new NftError('nft', ['-j', '-i'], undefined, this.stderr || 'nft session ended');
      if (result.error.trim()) throw new NftError('nft', ['-j', '-i'], 1, result.error);
      return result.output;
    } finally {
      this.hold(false);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 1000);
    await this.child.catch(() => undefined);
    clearTimeout(timer);
  }
}
