import { describe, expect, it } from 'vitest';
import { parseArgs, positionals } from '../../../src/cli/args.js';
import { main } from '../../../src/cli/run.js';

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err };
}

describe('CLI argument parsing', () => {
  it('takes options anywhere, with = or a separate value, and repeats', () => {
    const a = parseArgs(['--netns', 'h', 'network', 'create', 'n', '--subnet=10.0.0.0/24', '--subnet', 'fd00::/64', '--json'], {
      subnet: { value: true, repeat: true },
    });
    expect(a).toEqual({
      positionals: ['network', 'create', 'n'],
      options: { netns: 'h', subnet: ['10.0.0.0/24', 'fd00::/64'], json: true },
    });
  });
  it('names the option that is wrong', () => {
    expect(() => parseArgs(['--bogus'], {})).toThrow('--bogus: unknown option');
    expect(() => parseArgs(['--netns'], {})).toThrow('--netns: needs a value');
    expect(() => parseArgs(['--json=1'], {})).toThrow('--json: takes no value');
    expect(() => parseArgs(['--netns', 'a', '--netns', 'b'], {})).toThrow('given more than once');
  });
  it('checks positional counts', () => {
    expect(() => positionals({ positionals: ['a'], options: {} }, ['NETWORK', 'CONTAINER'])).toThrow('CONTAINER: missing');
    expect(() => positionals({ positionals: ['a', 'b', 'c'], options: {} }, ['NETWORK', 'CONTAINER'])).toThrow('c: unexpected argument');
    expect(() => positionals({ positionals: ['a', 'b'], options: {} }, ['NETWORK', 'CONTAINER'], 'SPEC')).toThrow('SPEC: missing');
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
    [['network', 'frob'], /unknown command "network frob"/],
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
    expect(r.out).toContain('network create NAME --subnet CIDR');
  });
});
