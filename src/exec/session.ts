/**
 * A long-lived child that reads commands on stdin (`nft -j -i`, `ip -force -batch -`), so a small
 * change costs a write and a read instead of starting a process (the bench's "batched ip (floor)"
 * and "nft input" rows show what a process start costs).
 *
 * Neither tool says when it has finished a command. After each request a marker line goes down
 * that the tool is sure to reject, carrying a sequence number; its complaint on stderr marks the
 * end of the request. What the tool wrote to stderr before it is the request's error; what it
 * wrote to stdout is the request's output.
 */
import { nsIdentity } from '../ip/netns.js';
import { createInterface } from 'node:readline';
import { defaultRunner, type Child, type Runner } from './runner.js';

export interface SessionProtocol {
  /** The line that marks the end of request `seq`. */
  marker(seq: number): string;
  /** Where the complaint about marker `seq` starts in `stderr`, and where it ends; undefined until complete. */
  findMarker(stderr: string, seq: number): { start: number; end: number } | undefined;
}

/**
 * Whether `text` ends with `char`, trailing whitespace aside: the end of a `-j` dump that may be a
 * megabyte on one line (a regex anchored at the end would scan all of it, at every line).
 */
export function endsWith(text: string | undefined, char: string): boolean {
  if (text === undefined) return false;
  for (let i = text.length - 1; i >= 0; i--) {
    const c = text[i];
    if (c === ' ' || c === '\n' || c === '\r' || c === '\t') continue;
    return c === char;
  }
  return false;
}

export interface Exchange {
  error: string;
  output: string[];
}

/**
 * Which namespace a path names now (device and inode of the nsfs file), or undefined when the
 * path is gone. A long-lived process keeps its namespace alive after `ip netns del`: without this
 * check it would go on changing a namespace nobody can see.
 */
export function netnsIdentity(path: string | undefined): string | undefined {
  return path === undefined ? 'current' : nsIdentity(path);
}

/** How long a request's expected output may lag behind its marker before it ends without it. */
const OUTPUT_GRACE_MS = 2000;

export class LineSession {
  private readonly child: Child;
  private stderr = '';
  private output: string[] = [];
  private seq = 0;
  private pending:
    | {
        seq: number;
        resolve: (r: Exchange | undefined) => void;
        complete?: ((output: readonly string[], error: string) => boolean) | undefined;
        /** The request's error, once its marker arrived; stdout may still be on its way. */
        error?: string;
        timer?: NodeJS.Timeout;
      }
    | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Requests sent or waiting their turn. */
  private outstanding = 0;
  private closed = false;
  private readonly identity: string | undefined;

  constructor(
    command: string,
    argv: readonly string[],
    private readonly netns: string | undefined,
    private readonly protocol: SessionProtocol,
    runner: Pick<Runner, 'spawn'> = defaultRunner,
  ) {
    this.identity = netnsIdentity(netns);
    this.child = runner.spawn(command, argv, { ...(netns ? { netns } : {}), stdin: 'pipe' });
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      this.check();
    });
    if (this.child.stdout)
      createInterface({ input: this.child.stdout }).on('line', (line) => {
        this.output.push(line);
        this.settle();
      });
    void this.child.finally(() => {
      this.closed = true;
      this.pending?.resolve(undefined);
    });
    // An idle session must not keep a program alive on its own; a request in flight must.
    this.hold(false);
  }

  /** Running, and its namespace is still the one the path names. */
  get alive(): boolean {
    if (!this.closed && netnsIdentity(this.netns) !== this.identity) void this.close();
    return !this.closed;
  }

  /** What the tool printed last, for the error when it died. */
  get lastWords(): string {
    return this.stderr;
  }

  private hold(on: boolean): void {
    const how = on ? 'ref' : 'unref';
    this.child[how]?.();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr])
      (s as unknown as Record<string, (() => void) | undefined> | null)?.[how]?.();
  }

  /** Has the marker of the request in flight arrived completely? */
  private check(): void {
    const p = this.pending;
    if (!p || p.error !== undefined) return;
    const at = this.protocol.findMarker(this.stderr, p.seq);
    if (!at) return;
    p.error = this.stderr.slice(0, at.start);
    this.stderr = this.stderr.slice(at.end).replace(/^\n/, '');
    this.settle();
  }

  /**
   * Ends the request once its marker arrived and its output is complete. stdout and stderr are
   * two pipes: the marker's complaint can overtake the output written before it, so a request
   * that expects output says when it has all of it (a read whose JSON arrived after the marker
   * would otherwise come back empty, and the next request would get it). A request that expects
   * none waits one turn of the event loop, then a last bound of OUTPUT_GRACE_MS covers the rest.
   */
  private settle(): void {
    const p = this.pending;
    if (!p || p.error === undefined) return;
    if (!p.complete) setImmediate(() => this.finish(p));
    else if (p.complete(this.output, p.error)) this.finish(p);
    else p.timer ??= setTimeout(() => this.finish(p), OUTPUT_GRACE_MS);
  }

  private finish(p: NonNullable<LineSession['pending']>): void {
    if (this.pending !== p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    const output = this.output;
    this.output = [];
    p.resolve({ error: p.error ?? '', output });
  }

  /**
   * Sends `text` (one or more lines) and waits for its marker; undefined when the child has ended.
   * `complete` says when the output of a request that prints something has fully arrived.
   */
  request(text: string, complete?: (output: readonly string[], error: string) => boolean): Promise<Exchange | undefined> {
    this.outstanding++;
    const run = this.queue.then(() => this.exchange(text, complete)).finally(() => this.outstanding--);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Once every request sent so far is answered (or the child ended). */
  settled(): Promise<void> {
    return this.queue.then(() => undefined);
  }

  /** Requests from now on wait for `before` first: a successor takes over only once its predecessor is done. */
  after(before: Promise<unknown>): void {
    const queue = this.queue;
    this.queue = Promise.all([queue, before.catch(() => undefined)]);
  }

  /** No request is in flight or waiting: the child can be replaced without cutting one off. */
  get idle(): boolean {
    return this.outstanding === 0;
  }

  private async exchange(text: string, complete?: (output: readonly string[], error: string) => boolean): Promise<Exchange | undefined> {
    if (this.closed) return undefined;
    const seq = ++this.seq;
    this.output = [];
    const answered = new Promise<Exchange | undefined>((resolve) => (this.pending = { seq, resolve, complete }));
    this.hold(true);
    try {
      this.child.stdin?.write(`${text}\n${this.protocol.marker(seq)}\n`);
      return await answered;
    } finally {
      this.hold(false);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 1000);
    await this.child.catch(() => undefined);
    clearTimeout(timer);
  }
}
