import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Lab } from '../../src/lab/lab.js';
import { cli, cliOk } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';
import { snapshot } from '../helpers/snapshot.js';

describeKernel('bad input is rejected with one line naming the field, and changes nothing', () => {
  let lab: Lab;
  let g: string[];
  let stateFile: string;
  let ns1: string;
  let c3: string;

  const world = () => ({
    host: snapshot(lab.host),
    state: readFileSync(stateFile, 'utf8'),
    journal: existsSync(stateFile.replace(/\.json$/, '.journal')) ? readFileSync(stateFile.replace(/\.json$/, '.journal'), 'utf8') : '',
    netns: execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter((n) => n.startsWith(`nb${lab.id}-`))
      .sort(), // other test files run beside this one
    c3links: execFileSync('ip', ['-n', c3, '-o', 'link'], { encoding: 'utf8' }).replace(/\s+/g, ' '),
  });

  beforeAll(async () => {
    lab = await Lab.create();
    g = ['--netns', lab.host, '--state-dir', lab.stateDir];
    stateFile = `${lab.stateDir}/netns-${lab.host}.json`;
    ns1 = lab.name('ns1');
    c3 = lab.name('c3');
    // A container nftbridge did not create, already holding an interface called eth0.
    await lab.addNetns(c3);
    execFileSync('ip', ['-n', c3, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p']);
    cliOk([...g, 'network', 'create', 'seed', '--subnet', '172.18.0.0/24', '--bridge', 'br0']);
    cliOk([...g, 'connect', 'seed', ns1]);
    cliOk([...g, 'publish', 'seed', ns1, '8080:80']);
  });
  afterAll(async () => {
    cli([...(g ?? []), 'down']);
    await lab?.destroy();
  });

  const cases: [string, () => string[], RegExp][] = [
    ['malformed CIDR', () => ['network', 'create', 'x', '--subnet', '10.9.0'], /^nftbridge: subnet: "10.9.0" is not a CIDR/],
    [
      'gateway outside the subnet',
      () => ['network', 'create', 'x', '--subnet', '10.9.0.0/24', '--gateway', '10.8.0.1'],
      /^nftbridge: gateway: /,
    ],
    ['a /31 subnet', () => ['network', 'create', 'x', '--subnet', '10.9.0.0/31'], /^nftbridge: subnet: .*too small/],
    ['an overlapping subnet', () => ['network', 'create', 'x', '--subnet', '172.18.0.0/16'], /^nftbridge: subnet: .*overlaps/],
    [
      'an empty bridge name',
      () => ['network', 'create', 'x', '--subnet', '10.9.0.0/24', '--bridge', ''],
      /^nftbridge: bridge: interface name is empty/,
    ],
    [
      'a 16-character bridge name',
      () => ['network', 'create', 'x', '--subnet', '10.9.0.0/24', '--bridge', 'abcdefghijklmnop'],
      /^nftbridge: bridge: .*longer than 15/,
    ],
    [
      'a wildcard bridge name',
      () => ['network', 'create', 'x', '--subnet', '10.9.0.0/24', '--bridge', 'br*'],
      /^nftbridge: bridge: .*outside/,
    ],
    ['an unknown network', () => ['connect', 'nope', lab.name('c9')], /^nftbridge: network: no network named "nope"/],
    ['an unknown container (publish)', () => ['publish', 'seed', lab.name('c9'), '80:80'], /^nftbridge: container: .*not connected/],
    ['an unknown container (disconnect)', () => ['disconnect', 'seed', lab.name('c9')], /^nftbridge: container: .*not connected/],
    [
      'a namespace path that does not exist',
      () => ['connect', 'seed', '/proc/999999999/ns/net'],
      /^nftbridge: container: .*does not exist/,
    ],
    [
      'an address outside the subnet',
      () => ['connect', 'seed', lab.name('c9'), '--ip', '10.0.0.5'],
      /^nftbridge: ip: .*not a usable address/,
    ],
    ['an address already taken', () => ['connect', 'seed', lab.name('c9'), '--ip', '172.18.0.2'], /^nftbridge: ip: .*already in use/],
    [
      'an interface name that is too long',
      () => ['connect', 'seed', lab.name('c9'), '--ifname', 'eth0123456789012'],
      /^nftbridge: ifname: /,
    ],
    [
      'an interface that exists in the container',
      () => ['connect', 'seed', c3, '--ifname', 'eth0'],
      /^nftbridge: ifname: eth0 already exists/,
    ],
    ['port 0', () => ['publish', 'seed', ns1, '0:80'], /^nftbridge: spec "0:80": port 0 is outside 1..65535/],
    ['port 70000', () => ['publish', 'seed', ns1, '70000:80'], /^nftbridge: spec "70000:80": port 70000 is outside/],
    ['a port already published', () => ['publish', 'seed', ns1, '9000:90', '8080:81'], /^nftbridge: spec "8080:81": .*already published/],
    ['unpublishing what is not published', () => ['unpublish', 'seed', ns1, '9999'], /^nftbridge: spec: 9999\/tcp is not published/],
    ['removing a network in use', () => ['network', 'rm', 'seed'], /^nftbridge: network: .*still has containers/],
    ['removing an unknown network', () => ['network', 'rm', 'nope'], /^nftbridge: network: no network/],
    // Namespaces that are never a container, and paths that are no namespace.
    [
      "the caller's own namespace",
      () => ['connect', 'seed', '/proc/self/ns/net'],
      /^nftbridge: container: \/proc\/self\/ns\/net is the calling process's own namespace/,
    ],
    ['the host namespace by path', () => ['connect', 'seed', Lab.path(lab.host)], /^nftbridge: container: .* is the host namespace/],
    ['the host namespace by name', () => ['connect', 'seed', lab.host], /^nftbridge: container: .* is the host namespace/],
    ["PID 1's namespace", () => ['connect', 'seed', '/proc/1/ns/net'], /^nftbridge: container: /],
    [
      'a file that is no namespace',
      () => ['connect', 'seed', '/etc/passwd'],
      /^nftbridge: container: \/etc\/passwd is not a network namespace/,
    ],
    ['a directory', () => ['connect', 'seed', '/tmp'], /^nftbridge: container: \/tmp is not a network namespace/],
    // Subnets the kernel treats specially, and the host's own.
    ...(
      [
        ['0.0.0.0/0', /covers every address/],
        ['0.0.0.0/8', /this network/],
        ['127.0.0.0/24', /loopback/],
        ['224.0.0.0/24', /multicast/],
        ['240.0.0.0/24', /reserved/],
        ['255.255.255.0/24', /reserved/],
        ['169.254.0.0/24', /link-local/],
        ['::ffff:10.0.0.0/120', /IPv4-mapped/],
        ['fe80::/64', /link-local/],
        ['ff02::/64', /multicast/],
        ['192.0.2.0/24', /overlaps the host's address 192.0.2.1\/24 on uplink0/],
        ['192.0.2.128/25', /overlaps the host's/],
      ] as const
    ).map(([cidr, why]): [string, () => string[], RegExp] => [
      `subnet ${cidr}`,
      () => ['network', 'create', 'x', '--subnet', cidr],
      new RegExp(`^nftbridge: subnet: .*${why.source}`),
    ]),
    [
      'a second gateway of one family',
      () => ['network', 'create', 'x', '--subnet', '10.9.0.0/24', '--gateway', '10.9.0.1', '--gateway', '10.9.0.2'],
      /^nftbridge: gateway: at most one gateway per address family/,
    ],
    ...['.', '..', 'all', 'default', 'help'].map((name): [string, () => string[], RegExp] => [
      `bridge name "${name}"`,
      () => ['network', 'create', 'x', '--subnet', '10.9.0.0/24', '--bridge', name],
      /^nftbridge: bridge: .*(reserved|not)/,
    ]),
    ['interface name "all"', () => ['connect', 'seed', lab.name('c9'), '--ifname', 'all'], /^nftbridge: ifname: "all" is reserved/],
    ['an all-zero MAC', () => ['connect', 'seed', lab.name('c9'), '--mac', '00:00:00:00:00:00'], /^nftbridge: mac: .*all-zero/],
    [
      'an MTU below 1280 with IPv6',
      () => ['network', 'create', 'x', '--subnet', '10.9.0.0/24', '--subnet', 'fd09::/64', '--mtu', '1200'],
      /^nftbridge: mtu: 1200 is below 1280/,
    ],
    [
      'a bridge name the host already uses',
      () => ['network', 'create', 'x', '--subnet', '10.9.0.0/24', '--bridge', 'uplink0'],
      /^nftbridge: bridge: an interface named uplink0 already exists/,
    ],
  ];

  it.each(cases)('%s', (_what, argv, message) => {
    const before = world();
    const r = cli([...g, ...argv()]);
    expect(r.status).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(world()).toEqual(before);
  });

  it('on a host with no state yet, bad input leaves no state directory behind (nor the lock in it)', async () => {
    // A second host of its own: one state per host namespace.
    const host2 = lab.name('h2');
    await lab.addNetns(host2);
    const fresh = join(lab.stateDir, 'fresh');
    const g2 = ['--netns', host2, '--state-dir', join(fresh, 'nested')];
    for (const argv of [
      ['network', 'create', 'x', '--subnet', '10.0.0.0/33'],
      ['connect', 'nope', lab.name('c9')],
      ['publish', 'nope', lab.name('c9'), '8080:80'],
      ['network', 'rm', 'nope'],
    ]) {
      const r = cli([...g2, ...argv]);
      expect(r.status, r.stderr).toBe(2);
      expect(existsSync(fresh), argv.join(' ')).toBe(false);
    }
    // A good command makes it, and a bad one then leaves it (and the state) as it was.
    cliOk([...g2, 'network', 'create', 'y', '--subnet', '10.9.0.0/24']);
    const before = readdirSync(join(fresh, 'nested')).sort();
    expect(cli([...g2, 'network', 'create', 'x', '--subnet', '10.0.0.0/33']).status).toBe(2);
    expect(readdirSync(join(fresh, 'nested')).sort()).toEqual(before);
    cliOk([...g2, 'down']);
  });

  it('after all that, the published port and state are as they were', () => {
    const status = JSON.parse(cliOk([...g, '--json', 'status'])) as {
      state: { ports: unknown[]; endpoints: unknown[]; networks: unknown[] };
    };
    const state = status.state;
    expect([state.networks.length, state.endpoints.length, state.ports.length]).toEqual([1, 1, 1]);
    expect(JSON.parse(cliOk([...g, '--json', 'status'])).drift).toEqual([]);
  });
});
