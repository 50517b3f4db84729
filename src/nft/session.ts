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

export class NftSession {
  private readonly session: LineSession;

  constructor(netns?: string, runner?: Pick<Runner, 'spawn'>) {
    this.session = new LineSession('nft', ['-j', '-i'], netns, protocol, runner);
  }

  get alive(): boolean {
    return this.session.alive;
  }

  /**
   * Runs one JSON command line (a document, or a list command) and returns what it printed.
   * `listing`: the line prints one JSON document, which the exchange waits for in full.
   */
  async run(text: string, listing = false): Promise<string[]> {
    const result = await this.session.request(text, listing ? listingArrived : undefined);
    if (!result) throw new NftError('nft', ['-j', '-i'], undefined, this.session.lastWords || 'nft session ended');
    if (result.error.trim()) throw new NftError('nft', ['-j', '-i'], 1, result.error);
    return result.output;
  }

  close(): Promise<void> {
    return this.session.close();
  }
}
