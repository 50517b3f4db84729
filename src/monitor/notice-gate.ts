/**
 * Lets the watch daemon leave the kernel's nftables notices while it loads a big document of its
 * own (the script in monitor/nft-notices.ts takes the commands): with a subscriber, the kernel
 * makes a message per element committed, which made a load of 20,000 elements take a third longer
 * (by hand: 130-138 ms against 98-103 ms), and the script read them all; the daemon's repair of a
 * deleted table is that load (bench: "watch on a large host").
 *
 * What others commit meanwhile must not go unseen: the ruleset generation is read before the
 * script leaves and after it is back. Anything but exactly one commit in between (the document's
 * own) has the script report notices as lost, and the daemon looks at everything, as after an
 * overflow of its socket.
 */
import type { ApplyGate } from '../nft/client.js';

type Command = 'quiet' | 'loud';

/** The longest a load waits for the script to leave (it answers within a millisecond when idle). */
const QUIET_WAIT_MS = 50;

export class NoticeGate implements ApplyGate {
  private send: ((line: string) => void) | undefined;
  private readonly waiting = new Map<Command, () => void>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly generation: () => Promise<number | undefined>,
    /** How long an answer may take: the script reads commands once its socket has nothing more. */
    private readonly answerMs = 500,
  ) {}

  /** The script is subscribed and takes commands through `send`; undefined once it has ended. */
  attach(send: ((line: string) => void) | undefined): void {
    this.send = send;
    for (const answered of this.waiting.values()) answered();
    this.waiting.clear();
  }

  /** A line the script printed: the answer to a command, or something else. */
  heard(line: string): void {
    const answered = this.waiting.get(line as Command);
    if (!answered) return;
    this.waiting.delete(line as Command);
    answered();
  }

  /** Whether the script answered `command` within `ms` (false: no script, it ended, or no answer in time). */
  private ask(command: Command, ms: number): Promise<boolean> {
    const send = this.send;
    if (!send) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(command);
        resolve(false);
      }, ms);
      this.waiting.set(command, () => {
        clearTimeout(timer);
        resolve(this.send === send);
      });
      send(`${command}\n`);
    });
  }

  around<T>(apply: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => this.quietly(apply));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async quietly<T>(apply: () => Promise<T>): Promise<T> {
    if (!this.send) return apply();
    // Read before leaving: a commit between this read and the script's return shows as one more.
    const before = await this.generation();
    // Not worth a delay: a script still busy with a burst leaves late, and the load is only echoed.
    await this.ask('quiet', Math.min(this.answerMs, QUIET_WAIT_MS));
    try {
      return await apply();
    } finally {
      // Sent whatever the answer to "quiet" was: a late one still left the group.
      // Waited for: the generation read after it must come when the script hears again.
      const back = await this.ask('loud', this.answerMs);
      const after = await this.generation();
      if (!back || before === undefined || after !== before + 1) this.send?.('lost\n');
    }
  }
}
