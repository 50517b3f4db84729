/**
 * A runner for tests without a kernel: `ip` goes to an in-memory iproute2 (ip/fake.ts), `nft` to an
 * in-memory nft per namespace (nft/fake.ts), sysctls to a map. Every call is recorded, and a test
 * can script failures (`failWhen`) to see rollbacks and best-effort teardown.
 */
import { CommandError, NftError } from '../errors.js';
import { FakeIp, FakeIpFailure } from '../ip/fake.js';
import type { NamespaceProbe } from '../ip/netns.js';
import { FakeNft, FakeNftFailure } from '../nft/fake.js';
import { documentSchema } from '../nft/schema.js';
import type { Child, RunOptions, RunResult, Runner } from './runner.js';

export interface Call {
  command: string;
  argv: readonly string[];
  netns?: string | undefined;
  input?: string | undefined;
}

export class FakeRunner implements Runner {
  readonly ip = new FakeIp();
  readonly calls: Call[] = [];
  readonly sysctls = new Map<string, string>();
  private readonly nfts = new Map<string, FakeNft>();
  private readonly failures: { match: (c: Call) => boolean; stderr: string; times: number }[] = [];
  /** Namespaces as the fake iproute2 has them: pass as `Host.open({ runner, namespaces })`. */
  readonly namespaces: NamespaceProbe = { identity: (p) => this.ip.identity(p), isNamespace: (p) => this.ip.hasNamespace(p) };

  /** The in-memory nft of a namespace ("" for the current one). */
  nft(netns = ''): FakeNft {
    let n = this.nfts.get(netns);
    if (!n) this.nfts.set(netns, (n = new FakeNft()));
    return n;
  }

  /** The next `times` calls that `match` fail with `stderr`, as the real command would. */
  failWhen(match: (c: Call) => boolean, stderr: string, times = 1): void {
    this.failures.push({ match, stderr, times });
  }

  /** Long-lived children (sessions, monitors) are not modelled: Hosts on a fake runner use one-shot commands. */
  spawn(command: string, argv: readonly string[]): Child {
    throw new CommandError(command, argv, 127, 'long-lived processes are not modelled by the fake runner');
  }

  async run(command: string, argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const call: Call = { command, argv, netns: options.netns, input: options.input };
    this.calls.push(call);
    const scripted = this.failures.find((f) => f.times > 0 && f.match(call));
    const Kind = command === 'nft' ? NftError : CommandError;
    if (scripted) {
      scripted.times--;
      throw new Kind(command, argv, 2, scripted.stderr);
    }
    try {
      return { stdout: this.answer(call), stderr: '' };
    } catch (err) {
      if (err instanceof FakeIpFailure || err instanceof FakeNftFailure) throw new Kind(command, argv, 2, err.message);
      throw err;
    }
  }

  private answer({ command, argv, netns = '', input = '' }: Call): string {
    if (command === 'ip') return this.ip.run(netns, argv, input);
    if (command === 'tee') {
      this.sysctls.set(`${netns} ${argv[0] ?? ''}`, input);
      return input;
    }
    if (command === 'conntrack') throw new CommandError('conntrack', argv, 1, '0 flow entries have been deleted.');
    if (command !== 'nft') throw new CommandError(command, argv, 127, `${command}: not modelled by the fake runner`);
    const nft = this.nft(netns);
    const [a, b, c, d, e] = argv;
    if (a === '-j' && b === '-f') nft.apply(documentSchema.parse(JSON.parse(input)));
    else if (a === '-c') nft.apply(documentSchema.parse(JSON.parse(input)), true);
    else if (a === '-j' && b === 'list' && c === 'table') {
      const listing = nft.list(d ?? '', e ?? '');
      if (!listing) throw new FakeNftFailure('Error: No such file or directory');
      return JSON.stringify(listing);
    } else if (a === '-j' && b === 'list' && c === 'chains') return JSON.stringify(nft.listChains());
    else if (a === 'delete' && b === 'table') nft.deleteTable(c ?? '', d ?? '');
    else throw new CommandError('nft', argv, 127, 'not modelled by the fake runner');
    return '';
  }
}
