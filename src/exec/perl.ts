/**
 * A long-lived perl script in one namespace, one request per line (nft/generation.ts,
 * ip/link-events.ts): perl speaks netlink where neither ip nor nft prints what nftbridge needs,
 * and perl-base is essential on Debian. Each script answers the line `marker N` with `end N` on
 * stderr, which ends a request. A request that fails (no perl, no such socket) makes the script
 * unavailable for good: its callers fall back to what they did without it.
 */
import type { Runner } from './runner.js';
import { type Exchange, LineSession, type SessionProtocol } from './session.js';

const protocol: SessionProtocol = {
  marker: (seq) => `marker ${seq}`,
  findMarker(stderr, seq) {
    const text = `end ${seq}\n`;
    const start = stderr.indexOf(text);
    return start < 0 ? undefined : { start, end: start + text.length };
  },
};

export class PerlScript {
  private session: LineSession | undefined;
  private unavailable = false;
  /** The last request started the process: whatever the script keeps (a subscription, say) begins now. */
  fresh = false;

  constructor(
    private readonly script: string,
    private readonly netns: string | undefined,
    private readonly runner: Pick<Runner, 'spawn'>,
    private readonly args: readonly string[] = [],
  ) {}

  /**
   * Sends `line`; `complete` says when its output has all arrived, `valid` whether it is an
   * answer at all. Undefined when the script is unavailable (now or from before).
   */
  async request(
    line: string,
    complete: (output: readonly string[]) => boolean,
    valid: (answer: Exchange) => boolean,
  ): Promise<Exchange | undefined> {
    if (this.unavailable) return undefined;
    let session = this.session;
    this.fresh = !session?.alive;
    if (!session || this.fresh)
      this.session = session = new LineSession('perl', ['-e', this.script, ...this.args], this.netns, protocol, this.runner);
    const answer = await session.request(line, complete);
    if (answer && !answer.error.trim() && valid(answer)) return answer;
    this.unavailable = true;
    await this.close();
    return undefined;
  }

  async close(): Promise<void> {
    await this.session?.close();
    this.session = undefined;
  }
}
