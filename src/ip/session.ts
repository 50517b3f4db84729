/**
 * A long-lived `ip -force -batch -` in one namespace: a link change costs a line, not a process.
 * Lines go one at a time, each followed by a marker (an unknown object, which ip rejects with
 * 'Object "nftbridge-marker-N" is unknown'), so a batch stops at its first failure as
 * `ip -batch` does: `-force` only keeps the session itself alive.
 */
import { CommandError } from '../errors.js';
import type { Runner } from '../exec/runner.js';
import { endsWith, LineSession, type SessionProtocol } from '../exec/session.js';

const FAILED = /Command failed -:\d+\n/g;

const protocol: SessionProtocol = {
  marker: (seq) => `nftbridge-marker-${seq}`,
  findMarker(stderr, seq) {
    const start = stderr.indexOf(`Object "nftbridge-marker-${seq}" is unknown`);
    if (start < 0) return undefined;
    FAILED.lastIndex = start;
    const m = FAILED.exec(stderr);
    return m ? { start, end: m.index + m[0].length } : undefined;
  },
};

/** A `-j` show printed its whole array, or failed. */
const jsonArrived = (output: readonly string[], error: string) => error.trim() !== '' || endsWith(output.at(-1), ']');

export class IpSession {
  private readonly session: LineSession;

  /** `options`: global flags for every line (`-j`, `-d`, `-6`), which a batch line cannot carry. */
  constructor(
    readonly netns?: string,
    options: readonly string[] = [],
    runner?: Pick<Runner, 'spawn'>,
  ) {
    this.session = new LineSession('ip', [...options, '-force', '-batch', '-'], netns, protocol, runner);
  }

  get alive(): boolean {
    return this.session.alive;
  }

  /**
   * Runs one command line; throws CommandError with ip's message, as a one-shot `ip` would.
   * `json`: the line prints one JSON array (a `-j` show), which the exchange waits for in full.
   */
  async run(args: readonly string[], json = false): Promise<string[]> {
    const result = await this.session.request(args.join(' '), json ? jsonArrived : undefined);
    if (!result) throw new CommandError('ip', args, undefined, this.session.lastWords || 'ip session ended');
    // ip says "Command failed" after a line that failed; anything else on stderr is a warning,
    // which a one-shot ip would print with exit status 0.
    if (!result.error.match(FAILED)) return result.output;
    throw new CommandError('ip', args, 1, result.error.replace(FAILED, '').trim());
  }

  close(): Promise<void> {
    return this.session.close();
  }
}
