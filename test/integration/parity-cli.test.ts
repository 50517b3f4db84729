import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Lab, UPLINK } from '../../src/lab/lab.js';
import { send, serve, type Server } from '../../src/lab/traffic.js';
import { cli, cliOk } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';

describeKernel('Docker-parity flags through the CLI', () => {
  let lab: Lab;
  let g: string[];
  const servers: Server[] = [];

  beforeAll(async () => {
    lab = await Lab.create();
    g = ['--netns', lab.host, '--state-dir', lab.stateDir];
    cliOk([...g, 'network', 'create', 'ds', '--subnet', '172.22.0.0/24', '--subnet', 'fd00:22::/64', '--mtu', '1450']);
    cliOk([...g, 'network', 'create', 'int', '--subnet', '172.23.0.0/24', '--internal']);
    cliOk([...g, 'network', 'create', 'iso', '--subnet', '172.24.0.0/24', '--no-icc']);
    cliOk([...g, 'connect', 'ds', lab.name('c1'), '--ip', '172.22.0.10', '--ip6', 'fd00:22::10', '--mac', '02:00:00:00:22:10']);
    cliOk([...g, 'connect', 'int', lab.name('c1')]);
    cliOk([...g, 'publish', 'ds', lab.name('c1'), `[${UPLINK.host6}]:8443:80`, '5353:53/udp', '9000-9001:9100-9101']);
    servers.push(await serve(Lab.path(lab.name('c1')), 'tcp', 80, 'c1'));
    servers.push(await serve(Lab.path(lab.name('c1')), 'udp', 53, 'c1-udp'));
    servers.push(await serve(Lab.path(lab.name('c1')), 'tcp', 9101, 'c1-9101'));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    cli([...(g ?? []), 'down']);
    await lab?.destroy();
  });

  it('--subnet twice, --ip6, --mac and --mtu are applied', () => {
    const link = execFileSync('ip', ['-n', lab.name('c1'), '-o', 'addr', 'show', 'eth0'], { encoding: 'utf8' });
    expect(link).toContain('172.22.0.10/24');
    expect(link).toContain('fd00:22::10/64');
    const l = execFileSync('ip', ['-n', lab.name('c1'), '-o', 'link', 'show', 'eth0'], { encoding: 'utf8' });
    expect(l).toContain('02:00:00:00:22:10');
    expect(l).toContain('mtu 1450');
  });

  it('an IPv6 host address in brackets binds the port there only', async () => {
    expect((await send(Lab.path(lab.outside), 'tcp', UPLINK.host6, 8443, 'x')).server).toBe('c1');
    await expect(send(Lab.path(lab.outside), 'tcp', UPLINK.host, 8443, 'x', 700)).rejects.toThrow();
  });

  it('UDP and ranges through the CLI', async () => {
    expect((await send(Lab.path(lab.outside), 'udp', UPLINK.host, 5353, 'x')).server).toBe('c1-udp');
    expect((await send(Lab.path(lab.outside), 'tcp', UPLINK.host, 9001, 'x')).server).toBe('c1-9101');
  });

  it('publishing on an --internal network is refused with one line naming the field', () => {
    const r = cli([...g, 'publish', 'int', lab.name('c1'), '8080:80']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('nftbridge: network: network "int" is internal; ports cannot be published from it');
  });

  it('network ls shows the flags', () => {
    const ls = cliOk([...g, 'network', 'ls']);
    expect(ls).toMatch(/int\s+nb-int\s+172\.23\.0\.0\/24\s+172\.23\.0\.1\s+1\s+internal/);
    expect(ls).toMatch(/iso\s+nb-iso.*no-icc/);
    expect(ls).toMatch(/ds\s+nb-ds.*mtu=1450/);
  });
});
