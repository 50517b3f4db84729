/**
 * Property: any command line either succeeds, or exits 2 with exactly one line on stderr and
 * changes nothing (kernel, state, namespaces). fast-check generates hostile and plausible values
 * for every field of network create, connect and publish; the CLI runs for real.
 * NFTBRIDGE_PROPERTY_RUNS sets the number of command lines (30 by default).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Lab } from '../../src/lab/lab.js';
import { cli, cliOk } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';
import { snapshot } from '../helpers/snapshot.js';

describeKernel('any command line succeeds or is refused with one line, changing nothing', () => {
  let lab: Lab;
  let g: string[];
  let stateFile: string;
  const runs = Number(process.env.NFTBRIDGE_PROPERTY_RUNS ?? 30);

  const world = () => ({
    host: snapshot(lab.host),
    state: existsSync(stateFile) ? readFileSync(stateFile, 'utf8') : '',
    journal: existsSync(stateFile.replace(/\.json$/, '.journal')) ? readFileSync(stateFile.replace(/\.json$/, '.journal'), 'utf8') : '',
    netns: execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter((n) => n.startsWith(`nb${lab.id}-`))
      .sort(),
  });
  const setup = () => {
    cliOk([...g, 'network', 'create', 'p', '--subnet', '10.89.0.0/24']);
    cliOk([...g, 'connect', 'p', lab.name('pc')]);
  };

  beforeAll(async () => {
    lab = await Lab.create();
    g = ['--netns', lab.host, '--state-dir', lab.stateDir];
    stateFile = `${lab.stateDir}/netns-${lab.host}.json`;
    setup();
  });
  afterAll(async () => {
    cli([...(g ?? []), 'down']);
    await lab?.destroy();
  });

  it('for network create, connect and publish with generated values', { timeout: 20_000 + runs * 3000 }, () => {
    const word = fc.oneof(
      fc.constantFrom('', '.', '..', 'all', 'default', 'help', 'a b', 'x'.repeat(70), 'eth0', 'lo', 'uplink0', 'br*', '-x', '--', 'nb-p'),
      fc.stringMatching(/^[A-Za-z0-9_.-]{1,17}$/),
      fc.string({ maxLength: 20 }),
    );
    const cidr = fc.oneof(
      fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 33 })).map(([a, p]) => `${a}/${p}`),
      fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 129 })).map(([a, p]) => `${a}/${p}`),
      fc.constantFrom('0.0.0.0/0', '127.0.0.0/8', '192.0.2.0/24', '::ffff:10.0.0.0/120', 'fe80::/64', '10.90.0.0/24', 'fd90::/64'),
      fc.string({ maxLength: 20 }),
    );
    const ip = fc.oneof(
      fc.ipV4(),
      fc.ipV6(),
      fc.constantFrom('10.89.0.1', '10.89.0.2', '10.89.0.77', '0.0.0.0'),
      fc.string({ maxLength: 16 }),
    );
    const container = fc.oneof(
      fc.constantFrom('/proc/self/ns/net', '/proc/1/ns/net', '/etc/passwd', '/', '/tmp', 'relative/path', `/run/netns/nb${'x'}`),
      word,
    );
    const mac = fc.oneof(fc.constantFrom('00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff', '02:42:ac:11:00:02'), fc.string({ maxLength: 18 }));
    const spec = fc.oneof(
      fc
        .tuple(fc.integer({ min: -1, max: 70000 }), fc.integer({ min: -1, max: 70000 }), fc.constantFrom('', '/tcp', '/udp', '/sctp'))
        .map(([h, c, p]) => `${h}:${c}${p}`),
      fc.string({ maxLength: 24 }),
    );
    const opt = <T>(name: string, arb: fc.Arbitrary<T>) =>
      fc.option(
        arb.map((v) => [name, String(v)]),
        { nil: undefined },
      );
    const create = fc
      .tuple(
        word,
        fc.array(cidr, { minLength: 0, maxLength: 2 }),
        fc.array(ip, { maxLength: 2 }),
        opt('--bridge', word),
        opt('--mtu', fc.oneof(fc.integer({ min: -5, max: 70000 }), fc.string({ maxLength: 5 }))),
      )
      .map(([name, subnets, gws, bridge, mtu]) => [
        'network',
        'create',
        name,
        ...subnets.flatMap((s) => ['--subnet', s]),
        ...gws.flatMap((x) => ['--gateway', x]),
        ...(bridge ?? []),
        ...(mtu ?? []),
      ]);
    const connect = fc
      .tuple(fc.constantFrom('p', 'nope'), container, opt('--ip', ip), opt('--ifname', word), opt('--mac', mac))
      .map(([net, c, i, ifn, m]) => [
        'connect',
        net,
        c.startsWith('/') || c === '' ? c : lab.name(`g${c}`).slice(0, 40),
        ...(i ?? []),
        ...(ifn ?? []),
        ...(m ?? []),
      ]);
    const publish = fc
      .tuple(fc.constantFrom(lab.name('pc'), 'nope'), fc.array(spec, { minLength: 0, maxLength: 3 }))
      .map(([c, specs]) => ['publish', 'p', c, ...specs]);

    fc.assert(
      fc.property(fc.oneof(create, connect, publish), (argv) => {
        const before = world();
        const r = cli([...g, ...argv]);
        if (r.status === 0) {
          // A success is fine; put the world back for the next command line.
          cliOk([...g, 'down']);
          setup();
          return;
        }
        expect(r.stderr.includes('    at '), `a stack trace for ${JSON.stringify(argv)}: ${r.stderr}`).toBe(false);
        expect(r.stderr.trimEnd().split('\n'), JSON.stringify(argv)).toHaveLength(1);
        expect(r.status, `${JSON.stringify(argv)}: ${r.stderr}`).toBe(2);
        expect(world(), JSON.stringify(argv)).toEqual(before);
      }),
      { numRuns: runs },
    );
  });
});
