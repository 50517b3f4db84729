/**
 * Host operations and convergence without a kernel: the fake runner answers `ip` from an
 * in-memory iproute2 and `nft` from an in-memory nft that applies documents all-or-nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TeardownError } from '../../src/errors.js';
import { FakeRunner } from '../../src/exec/fake-runner.js';
import { Hooks } from '../../src/hooks/hooks.js';
import { Host } from '../../src/host.js';
import { converge } from '../../src/reconcile/converge.js';

let dir: string;
let hostNs: string;
let runner: FakeRunner;
let host: Host;

const links = (ns = hostNs) =>
  JSON.parse(runner.ip.run(ns, ['-j', '-d', 'addr', 'show'])) as {
    ifname: string;
    master?: string;
    ifalias?: string;
    addr_info: { local: string }[];
  }[];
const names = (ns = hostNs) =>
  links(ns)
    .map((l) => l.ifname)
    .sort();
const nft = () => runner.nft(hostNs);
const elements = (family: string, set: string) => {
  const listing = nft().list(family, 'nftbridge');
  const s = listing?.nftables.find((o) => JSON.stringify(o).includes(`"name":"${set}"`)) as
    | Record<string, { elem?: unknown[] }>
    | undefined;
  return JSON.stringify(Object.values(s ?? {})[0]?.elem ?? []);
};

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nftbridge-fake-'));
  hostNs = join(dir, 'hostns'); // stands for the host namespace's path; only the fake acts "in" it
  writeFileSync(hostNs, '');
  runner = new FakeRunner();
  host = await Host.open({ netns: hostNs, stateDir: join(dir, 'state'), runner, namespaces: runner.namespaces });
});
afterEach(async () => {
  await host.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Host operations through the fake runner', () => {
  it('createNetwork makes a marked bridge with its gateway, forwarding on, both tables', async () => {
    await host.createNetwork({ name: 'web', subnet: '172.18.0.0/24' });
    const br = links().find((l) => l.ifname === 'nb-web');
    expect(br?.ifalias).toBe(host.mark);
    expect(br?.addr_info.map((a) => a.local)).toEqual(['172.18.0.1']);
    expect(runner.sysctls.get(`${hostNs} /proc/sys/net/ipv4/ip_forward`)).toBe('1');
    expect(nft().tableNames()).toEqual(['bridge nftbridge', 'inet nftbridge']);
    expect((await host.status()).drift).toEqual([]);
  });

  it('connect makes a namespace, a marked veth pair and the source elements; publish adds map elements only', async () => {
    await host.createNetwork({ name: 'web', subnet: '172.18.0.0/24' });
    const ep = await host.connect('web', 'c1');
    expect(runner.ip.hasNamespace('/run/netns/c1')).toBe(true);
    expect(links().find((l) => l.ifname === ep.hostIfname)).toMatchObject({ master: 'nb-web', ifalias: host.mark });
    expect(
      links('/run/netns/c1')
        .find((l) => l.ifname === 'eth0')
        ?.addr_info.map((a) => a.local),
    ).toEqual(['172.18.0.2']);
    expect(elements('bridge', 'spoof_src4')).toContain('172.18.0.2');
    const before = nft().applied.length;
    await host.publish('web', 'c1', ['8080:80']);
    const doc = nft().applied.slice(before);
    expect(doc).toHaveLength(1); // one small transaction, no rebuild
    expect(doc[0]?.nftables.every((c) => 'add' in c && 'element' in c.add)).toBe(true);
    expect(elements('inet', 'pub4_tcp_addr')).toContain('172.18.0.2');
    expect((await host.status()).drift).toEqual([]);
  });

  it('a connect that fails midway rolls everything back, its source elements and namespace included', async () => {
    await host.createNetwork({ name: 'web', subnet: '172.18.0.0/24' });
    runner.failWhen((c) => c.command === 'ip' && c.netns === '/run/netns/c2', 'RTNETLINK answers: Operation not permitted');
    await expect(host.connect('web', 'c2')).rejects.toThrow(/Operation not permitted/);
    expect(runner.ip.hasNamespace('/run/netns/c2')).toBe(false);
    expect(names()).toEqual(['lo', 'nb-web']);
    expect(elements('bridge', 'spoof_src4')).toBe('[]');
    expect((await host.state()).endpoints).toEqual([]);
    expect(runner.ip.run('', ['-j', 'addr', 'show'])).not.toContain('veth');
  });

  it('disconnect, unpublish, removeNetwork and down leave nothing', async () => {
    await host.createNetwork({ name: 'web', subnet: '172.18.0.0/24' });
    await host.connect('web', 'c1');
    await host.publish('web', 'c1', ['8080:80', '53:53/udp']);
    await host.unpublish('web', 'c1', ['53/udp']);
    expect(elements('inet', 'pub4_udp_addr')).toBe('[]');
    expect(elements('inet', 'pub4_tcp_addr')).toContain('8080');
    // Another container, with a port of its own: the port list a disconnect leaves is the same
    // list when the container published nothing, and without exactly its ports otherwise.
    await host.connect('web', 'c2');
    await host.publish('web', 'c2', ['9090:90']);
    const c2port = (await host.state()).ports.find((p) => p.container === 'c2');
    await host.connect('web', 'c3');
    const withC3 = (await host.state()).ports;
    await host.disconnect('web', 'c3');
    expect((await host.state()).ports).toBe(withC3);
    await host.disconnect('web', 'c1');
    expect((await host.state()).ports).toEqual([c2port]);
    await host.disconnect('web', 'c2');
    expect(runner.ip.hasNamespace('/run/netns/c1')).toBe(false);
    expect(elements('inet', 'pub4_tcp_addr')).toBe('[]');
    await host.removeNetwork('web');
    expect(names()).toEqual(['lo']);
    await host.down();
    expect(nft().tableNames()).toEqual([]);
  });

  it('down is best effort: it removes what it can, empties the state, and names what it could not remove', async () => {
    await host.createNetwork({ name: 'a', subnet: '172.18.0.0/24' });
    await host.createNetwork({ name: 'b', subnet: '172.19.0.0/24' });
    await host.connect('a', 'c1');
    runner.failWhen((c) => c.command === 'ip' && c.argv.join(' ') === 'link del dev nb-a', 'RTNETLINK answers: Device or resource busy');
    const err = await host.down().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TeardownError);
    expect((err as TeardownError).message).toMatch(/bridges nb-a nb-b: .*Device or resource busy/);
    expect(names()).toEqual(['lo', 'nb-a']); // the rest went
    expect((await host.state()).networks).toEqual([]);
    // What is left is an orphan: status says so, and the next down removes it.
    expect((await host.status()).drift).toEqual([
      { kind: 'orphan', subject: 'nb-a', reason: expect.stringMatching(/does not know/) as unknown as string },
    ]);
    await host.down();
    expect(names()).toEqual(['lo']);
  });

  it('a state from before links were marked gets its links marked once, so down still removes them', async () => {
    runner.ip.run(hostNs, ['link', 'add', 'nb-old', 'type', 'bridge']);
    runner.ip.run(hostNs, ['link', 'add', 'vethold', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', '/run/netns/old']);
    runner.ip.run(hostNs, ['link', 'set', 'vethold', 'master', 'nb-old']);
    runner.ip.run(hostNs, ['link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'up1']);
    const legacy = {
      version: 1 as const,
      networks: [{ name: 'old', bridge: 'nb-old', subnets: [{ cidr: '10.9.0.0/24', gateway: '10.9.0.1' }], internal: false, icc: true }],
      containers: [],
      // uplink0 is a veth but not enslaved to the network's bridge: it is not what the state describes.
      endpoints: [
        { network: 'old', container: 'old', ifname: 'eth0', hostIfname: 'vethold', addresses: ['10.9.0.2'] },
        { network: 'old', container: 'x', ifname: 'eth0', hostIfname: 'uplink0', addresses: ['10.9.0.3'] },
      ],
      ports: [],
    };
    await host.store.write(legacy);
    await host.down();
    expect(names()).toEqual(['lo', 'up1', 'uplink0']);
  });

  it('links nftbridge did not make are never deleted, even when the state names them', async () => {
    runner.ip.run(hostNs, ['link', 'add', 'uplink0', 'type', 'bridge']);
    await host.createNetwork({ name: 'a', subnet: '172.18.0.0/24' });
    await host.store.write({
      ...(await host.state()),
      networks: [{ name: 'x', bridge: 'uplink0', subnets: [{ cidr: '10.9.0.0/24', gateway: '10.9.0.1' }], internal: false, icc: true }],
    });
    await host.down();
    expect(names()).toContain('uplink0');
  });
});

describe('convergence through the fake runner', () => {
  const repair = async () => {
    const hooks = new Hooks();
    const plans: unknown[] = [];
    hooks.on('plan', (p) => plans.push(p.document));
    const r = await converge(host, hooks, [{ source: 'resync' }]);
    return { ...r, plans };
  };

  beforeEach(async () => {
    await host.createNetwork({ name: 'web', subnet: '172.18.0.0/24' });
    await host.connect('web', 'c1');
    await host.publish('web', 'c1', ['8080:80']);
  });

  it('does nothing when nothing differs', async () => {
    const before = runner.calls.length;
    const r = await repair();
    expect(r.changed).toBe(false);
    expect(runner.calls.slice(before).some((c) => c.command === 'nft' && c.argv.includes('-f'))).toBe(false);
  });

  it('rebuilds deleted tables in one transaction', async () => {
    nft().deleteTable('inet', 'nftbridge');
    const r = await repair();
    expect(r.drift.map((d) => d.kind)).toContain('table');
    expect(nft().tableNames()).toEqual(['bridge nftbridge', 'inet nftbridge']);
    expect((await host.status()).drift).toEqual([]);
  });

  it('repairs a deleted element with an element change, not a rebuild', async () => {
    const elem = JSON.parse(elements('inet', 'pub4_tcp_addr')) as unknown[];
    nft().deleteElement('inet', 'nftbridge', 'pub4_tcp_addr', elem[0] as never);
    const r = await repair();
    expect(r.document?.nftables.every((c) => 'add' in c && 'element' in c.add)).toBe(true);
    expect((await host.status()).drift).toEqual([]);
  });

  it('recreates a deleted bridge with its gateway, and removes an orphan link of ours', async () => {
    runner.ip.run(hostNs, ['link', 'del', 'nb-web']);
    runner.ip.run(hostNs, ['link', 'add', 'vethorphan', 'type', 'bridge']);
    runner.ip.run(hostNs, ['link', 'set', 'vethorphan', 'alias', host.mark]);
    const r = await repair();
    expect(r.drift.map((d) => d.kind).sort()).toEqual(['bridge', 'endpoint', 'orphan']);
    expect(names()).toContain('nb-web');
    expect(names()).not.toContain('vethorphan');
    expect(
      links()
        .find((l) => l.ifname === 'nb-web')
        ?.addr_info.map((a) => a.local),
    ).toEqual(['172.18.0.1']);
  });
});

describe('the in-memory nft', () => {
  it('applies a document all-or-nothing', () => {
    const fake = new FakeRunner().nft();
    fake.apply({ nftables: [{ add: { table: { family: 'inet', name: 't' } } }] });
    expect(() =>
      fake.apply({
        nftables: [
          { add: { table: { family: 'inet', name: 'u' } } },
          { add: { rule: { family: 'inet', table: 't', chain: 'nope', expr: [{ accept: null }] } } },
        ],
      }),
    ).toThrow(/No such file or directory/);
    expect(fake.tableNames()).toEqual(['inet t']);
  });
});
