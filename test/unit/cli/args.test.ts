import { describe, expect, it } from 'vitest';
import { positionals } from '../../../src/cli/args.js';
import { main } from '../../../src/cli/run.js';

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err };
}

describe('CLI argument parsing', () => {
  it('checks positional counts', () => {
    expect(() => positionals({ positionals: ['a'], options: {} }, ['NETWORK', 'CONTAINER'])).toThrow('CONTAINER: missing');
    expect(() => positionals({ positionals: ['a', 'b', 'c'], options: {} }, ['NETWORK', 'CONTAINER'])).toThrow('c: unexpected argument');
    expect(() => positionals({ positionals: ['a', 'b'], options: {} }, ['NETWORK', 'CONTAINER'], 'SPEC')).toThrow('SPEC: missing');
  });
});

describe('help, version and typos (commander)', () => {
  it('nftbridge --help lists every command with a one-line description', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const c of [
      'network',
      'connect',
      'disconnect',
      'publish',
      'unpublish',
      'ruleset',
      'apply',
      'status',
      'recover',
      'down',
      'watch',
      'demo',
      'sandbox',
      'help',
    ])
      expect(r.out).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    expect(r.out).toContain('attach a container');
  });
  it('help COMMAND and COMMAND --help describe its options', async () => {
    const a = await run(['help', 'connect']);
    const b = await run(['connect', '--help']);
    expect(a.code).toBe(0);
    expect(b.out).toBe(a.out);
    expect(a.out).toMatch(/--ip6 <value>\s+the IPv6 address/);
    const net = await run(['network', '--help']);
    expect(net.code).toBe(0);
    for (const c of ['create', 'inspect', 'ls', 'rm', 'prune']) expect(net.out).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
  });
  it('--version prints the package version', async () => {
    const r = await run(['--version']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^\d+\.\d+\.\d+$/);
  });
  it('a typo exits 2 with one line that suggests the command', async () => {
    const r = await run(['netwrok', 'ls']);
    expect(r.code).toBe(2);
    expect(r.err).toEqual(['nftbridge: command: unknown command "netwrok" (did you mean "network"?)']);
  });
});

describe('CLI bad input (nothing touched: these fail before opening a host)', () => {
  it.each([
    [['network', 'create', 'n'], /--subnet: missing/],
    [['network', 'create', 'n', '--subnet', '10.0.0.0/24', '--mtu', 'big'], /--mtu: "big" is not a whole number/],
    [['network', 'create', 'n', '--subnet', '10.0.0.0/24', '--ip', '1.2.3.4'], /--ip: unknown option/],
    [['connect', 'net'], /CONTAINER: missing/],
    [['publish', 'net', 'c'], /SPEC: missing/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['network', 'frob'], /unknown command "frob"/],
    [['--netns'], /--netns: needs a value/],
    [['--netns', 'no/such', 'network', 'ls'], /netns: namespace path "no\/such" must be absolute/],
  ])('%j', async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(message);
  });
  it('prints usage with --help', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('network');
  });
});
