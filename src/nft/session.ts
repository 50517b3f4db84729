/**
 * A long-lived `nft -j -i` in the host namespace for small, frequent changes (publishing a port)
 * and listings: one JSON document per line, each its own transaction, in about a millisecond
 * instead of the cost of starting nft.
 *
 * The marker is a command with an invalid family carrying the sequence number. nft rejects it
 * while parsing, before touching its cache (a valid marker such as a listing would make nft
 * refetch every set element on the next change), and prints "Unknown family 'nftbridge-marker-N'".
 */
import { NftError } from '../errors.js';
import type { Runner } from '../exec/runner.js';
import { endsWith, LineSession, type SessionProtocol } from '../exec/session.js';

const markerStart = (seq: number) => `internal:0:0-0: Error: Unknown family 'nftbridge-marker-${seq}'.`;
const MARKER_END = 'Parsing command array at index 0 failed.\n';

const protocol: SessionProtocol = {
  marker: (seq) => JSON.stringify({ nftables: [{ flush: { table: { family: `nftbridge-marker-${seq}`, name: 'x' } } }] }),
  findMarker(stderr, seq) {
    const start = stderr.indexOf(markerStart(seq));
    if (start < 0) return undefined;
    const end = stderr.indexOf(MARKER_END, start);
    return end < 0 ? undefined : { start, end: end + MARKER_END.length };
  },
};

/** A listing printed its whole document, or failed. */
const listingArrived = (output: readonly string[], error: string) => error.trim() !== '' || endsWith(output.at(-1), '}');

/**
 * How many requests one nft process serves before the next idle moment hands over to a fresh one.
 * nft -i adds every line it reads (a request and its marker) to its libedit history, never frees
 * it, and walks it from its first entry at every line: a request costs more the more requests came
 * before it (bench: "nft input", element change through one nft -i never renewed, against the
 * reference). Every this many, the history starts again.
 */
export const RENEW_AFTER = 250;

/** The successor starts this many requests before it takes over, so no request waits for nft to start. */
const START_AHEAD = 10;

export class NftSession {
  private session: LineSession;
  private next: LineSession | undefined;
  private served = 0;

  constructor(
    private readonly netns?: string,
    private readonly runner?: Pick<Runner, 'spawn'>,
    private readonly renewAfter = RENEW_AFTER,
  ) {
    this.session = this.start();
  }

  private start(): LineSession {
    return new LineSession('nft', ['-j', '-i'], this.netns, protocol, this.runner);
  }

  get alive(): boolean {
    return this.session.alive;
  }

  /**
   * Runs one JSON command line (a document, or a list command) and returns what it printed.
   * `listing`: the line prints one JSON document, which the exchange waits for in full.
   */
  async run(text: string, listing = false): Promise<string[]> {
    if (this.served >= this.renewAfter - START_AHEAD) this.next ??= this.start();
    // Handed over between requests, so none is cut off; the old process ends on its stdin's end.
    // A caller that always has a request queued would never leave a moment between requests: past
    // twice the count, the successor takes the next request once the old process answered all it
    // was sent (transactions stay in the order they were asked for).
    if (this.served >= this.renewAfter && (this.session.idle || this.served >= 2 * this.renewAfter)) this.handOver();
    this.served++;
    const session = this.session;
    const result = await session.request(text, listing ? listingArrived : undefined);
    if (!result) throw new NftError('nft', ['-j', '-i'], undefined, session.lastWords || 'nft session ended');
    if (result.error.trim()) throw new NftError('nft', ['-j', '-i'], 1, result.error);
    return result.output;
  }

  /** How many times a fresh process took over. */
  renewals = 0;

  private handOver(): void {
    const next = this.next?.alive ? this.next : this.start();
    if (next !== this.next) void this.next?.close();
    this.next = undefined;
    const old = this.session;
    const done = old.settled();
    next.after(done);
    void done.then(() => old.close());
    this.session = next;
    this.served = 0;
    this.renewals++;
  }

  async close(): Promise<void> {
    await Promise.all([this.session.close(), this.next?.close()]);
    this.next = undefined;
  }
}
