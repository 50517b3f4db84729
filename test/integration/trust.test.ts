/**
 * Trust on a real host: nftbridge never acts on what it did not make (the caller's namespace, a
 * container's own interfaces, links a planted state names), refuses a state directory others can
 * write, undoes its own partial work, and the sandbox never runs a command in the real namespace.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Host } from '../../src/index.js';
import { Lab } from '../../src/lab/lab.js';
import { cli, CLI } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';
import { snapshot } from '../helpers/snapshot.js';

const nsh = (netns: string, ...args: string[]) => execFileSync('ip', ['-n', netns, ...args], { encoding: 'utf8' });
const links = (netns: string) => (JSON.parse(nsh(netns, '-j', 'link', 'show')) as { ifname: string }[]).map((l) => l.ifname).sort();

describeKernel('nftbridge acts only on what it made', () => {
  let lab: Lab;
  let host: Host;

  beforeAll(async () => {
    lab = await Lab.create();
    host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
    await host.createNetwork({ name: 'n', subnet: '10.81.0.0/24' });
  });
  afterAll(async () => {
    await host?.down().catch(() => undefined);
    await host?.close();
    await lab?.destroy();
  });

  it("a repair never deletes an interface of the container's own", async () => {
    const c = lab.name('own');
    await host.connect('n', c);
    const ep = (await host.state()).endpoints.find((e) => e.container === c)!;
    // The endpoint is lost (its veth goes, and the container side with it), and the container's
    // owner makes an eth0 of its own.
    nsh(lab.host, 'link', 'del', ep.hostIfname);
    nsh(c, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'own0');
    await expect(host.apply()).rejects.toThrow(/eth0 already exists/);
    expect(links(c)).toEqual(['eth0', 'lo', 'own0']); // the owner's pair, untouched
    // Once the owner's eth0 is gone, apply repairs the endpoint; a leftover of ours would be replaced.
    nsh(c, 'link', 'del', 'eth0');
    await host.apply();
    expect((await host.status()).drift).toEqual([]);
    await host.disconnect('n', c);
  });

  it('IPAM never hands out an address seen on the segment, and a departed endpoint frees its own at once', async () => {
    // Somebody else's machine on the bridge (its own port, address 10.81.0.2), known to the host.
    const foreign = lab.name('fgn');
    await lab.addNetns(foreign);
    nsh(lab.host, 'link', 'add', 'fgn0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', Lab.path(foreign));
    nsh(lab.host, 'link', 'set', 'fgn0', 'master', 'nb-n', 'up');
    nsh(foreign, 'addr', 'add', '10.81.0.2/24', 'dev', 'eth0');
    nsh(foreign, 'link', 'set', 'eth0', 'up');
    nsh(
      lab.host,
      'neigh',
      'replace',
      '10.81.0.2',
      'lladdr',
      nsh(foreign, '-j', 'link', 'show', 'eth0').match(/"address":"([^"]+)"/)?.[1] ?? '',
      'dev',
      'nb-n',
      'nud',
      'reachable',
    );
    try {
      const a = await host.connect('n', lab.name('ipam1'));
      expect(a.addresses).toEqual(['10.81.0.3']);
      // The host talked to it: its entry is there; after disconnect the address is free again.
      nsh(lab.host, 'neigh', 'replace', '10.81.0.3', 'lladdr', '02:00:00:00:00:03', 'dev', 'nb-n', 'nud', 'stale');
      await host.disconnect('n', lab.name('ipam1'));
      expect((await host.connect('n', lab.name('ipam2'))).addresses).toEqual(['10.81.0.3']);
      await host.disconnect('n', lab.name('ipam2'));
    } finally {
      spawnSync('ip', ['netns', 'del', foreign]);
    }
  });

  it('links a state names but nftbridge did not make are never deleted (a planted state)', async () => {
    const planted = mkdtempSync(join(tmpdir(), 'nftbridge-planted-'));
    try {
      const state = {
        version: 1,
        networks: [{ name: 'x', bridge: 'uplink0', subnets: [{ cidr: '10.99.0.0/24', gateway: '10.99.0.1' }], internal: false, icc: true }],
        containers: [],
        endpoints: [{ network: 'x', container: 'y', ifname: 'eth0', hostIfname: 'uplink0', addresses: ['10.99.0.2'] }],
        ports: [],
      };
      writeFileSync(join(planted, `netns-${lab.host}.json`), JSON.stringify(state), { mode: 0o600 });
      const r = cli(['--netns', lab.host, '--state-dir', planted, 'down']);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('left uplink0 alone');
      expect(links(lab.host)).toContain('uplink0');
    } finally {
      rmSync(planted, { recursive: true, force: true });
    }
    // down of the planted state deleted its (our) table name: put ours back.
    await host.apply();
  });

  it('a state directory others can write is refused, with one line and nothing done', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nftbridge-open-'));
    try {
      chmodSync(dir, 0o777);
      const r = cli(['--netns', lab.host, '--state-dir', dir, 'network', 'create', 'w', '--subnet', '10.98.0.0/24']);
      expect(r.status).toBe(1);
      expect(r.stderr.trimEnd().split('\n')).toEqual([
        `nftbridge: state directory ${dir}: is writable by group or others (mode 777); chmod go-w it`,
      ]);
      expect(links(lab.host)).not.toContain('nb-w');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a state file that is a symbolic link is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nftbridge-link-'));
    try {
      execFileSync('ln', ['-s', '/etc/passwd', join(dir, `netns-${lab.host}.json`)]);
      const r = cli(['--netns', lab.host, '--state-dir', dir, 'status']);
      expect(r.status).toBe(1);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/is a symbolic link/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a bridge whose address the kernel refused is removed again (the failing step undoes its own work)', async () => {
    const before = snapshot(lab.host);
    // New links get IPv6 disabled, so the bridge is made and its IPv6 gateway refused.
    const sysctl = '/proc/sys/net/ipv6/conf/default/disable_ipv6';
    execFileSync('nsenter', [`--net=${Lab.path(lab.host)}`, 'sh', '-c', `echo 1 > ${sysctl}`]);
    try {
      await expect(host.createNetwork({ name: 'v6', subnet: ['10.97.0.0/24', 'fd97::/64'], bridge: 'nb-v6' })).rejects.toThrow();
    } finally {
      execFileSync('nsenter', [`--net=${Lab.path(lab.host)}`, 'sh', '-c', `echo 0 > ${sysctl}`]);
    }
    expect(links(lab.host)).not.toContain('nb-v6');
    expect(snapshot(lab.host)).toEqual(before);
    expect((await host.state()).networks.map((n) => n.name)).toEqual(['n']);
    // And nothing stands in the way of creating it again.
    await host.createNetwork({ name: 'v6', subnet: ['10.97.0.0/24', 'fd97::/64'], bridge: 'nb-v6' });
    await host.removeNetwork('v6');
  });

  it('a container given by path is pinned to its namespace: once the path names another, nothing is done there', async () => {
    const name = lab.name('pin');
    const path = Lab.path(name);
    execFileSync('ip', ['netns', 'add', name]);
    try {
      await host.connect('n', path); // a path (with a slash): pinned to what it names now
      // Looks before the swap: a long-lived Host keeps what paths named while no mount changes
      // (ip/netns.ts NamespaceCache), and the swap below is two mount changes it must notice.
      for (let i = 0; i < 3; i++) expect((await host.status()).drift).toEqual([]);
      execFileSync('ip', ['netns', 'del', name]);
      execFileSync('ip', ['netns', 'add', name]); // same path, another namespace
      const drift = (await host.status()).drift;
      expect(drift).toContainEqual({
        kind: 'container',
        subject: path,
        reason: expect.stringMatching(/another namespace now/) as unknown as string,
      });
      await host.apply();
      expect(links(name)).toEqual(['lo']); // apply did not build an endpoint in the impostor
      await host.disconnect('n', path);
    } finally {
      spawnSync('ip', ['netns', 'del', name]);
    }
  });
});

describeKernel('the sandbox never runs a command in the real namespace', () => {
  it('exits non-zero, running nothing, when it cannot make its namespaces', () => {
    // Outside any sandbox, with an unshare that fails: the command must not run.
    const dir = mkdtempSync(join(tmpdir(), 'nftbridge-nounshare-'));
    try {
      mkdirSync(join(dir, 'bin'));
      writeFileSync(join(dir, 'bin', 'unshare'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
      const marker = join(dir, 'ran');
      const env = { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH ?? ''}`, NFTBRIDGE_SANDBOX: '' };
      const r = spawnSync(process.execPath, [CLI, 'sandbox', '--', 'touch', marker], { encoding: 'utf8', env });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/sandbox: cannot create/);
      expect(spawnSync('test', ['-e', marker]).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('inside, the default state directory is a private temporary one', () => {
    // The tests themselves run inside `nftbridge sandbox`.
    const dir = process.env.NFTBRIDGE_STATE_DIR ?? '';
    expect(dir).not.toBe('');
    expect(dir.startsWith(process.env.TMPDIR ?? '/nonexistent')).toBe(true);
    expect(dir).not.toMatch(/^\/var\/lib\/nftbridge/);
  });
});
