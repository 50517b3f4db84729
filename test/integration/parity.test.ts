import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Host, ValidationError } from '../../src/index.js';
import { ATTACKER, Lab, UPLINK } from '../../src/lab/lab.js';
import { send, serve, type Proto, type Server } from '../../src/lab/traffic.js';
import { describeKernel } from '../helpers/kernel.js';

describeKernel('Docker parity, with real traffic', () => {
  let lab: Lab;
  let host: Host;
  let attacker: string;
  const servers: Server[] = [];
  const ns = (role: string) => Lab.path(lab.name(role));
  const hostNs = () => Lab.path(lab.host);
  const outside = () => Lab.path(lab.outside);

  const ok = async (from: string, to: string, port: number, server: string, proto: Proto = 'tcp') => {
    const p = randomBytes(6).toString('hex');
    const r = await send(from, proto, to, port, p);
    expect(r.server).toBe(server);
    expect(r.payload).toBe(p);
    return r;
  };
  const blocked = async (from: string, to: string, port: number, proto: Proto = 'tcp') => {
    await expect(send(from, proto, to, port, 'x', 700)).rejects.toThrow();
  };

  beforeAll(async () => {
    lab = await Lab.create();
    host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
    attacker = await lab.addAttacker(['172.30.0.0/16', '127.0.0.0/8']);
    execFileSync('ip', ['-n', lab.host, 'addr', 'add', '192.0.2.3/24', 'dev', 'uplink0']);
    await host.createNetwork({ name: 'A', subnet: ['172.30.1.0/24', 'fd00:30:1::/64'] });
    await host.createNetwork({ name: 'B', subnet: '172.30.2.0/24', mtu: 1400 });
    await host.createNetwork({ name: 'I', subnet: '172.30.3.0/24', internal: true });
    await host.createNetwork({ name: 'N', subnet: '172.30.4.0/24', icc: false });
    for (const [net, role] of [
      ['A', 'a1'],
      ['A', 'a2'],
      ['A', 'a3'],
      ['B', 'b1'],
      ['B', 'a3'],
      ['I', 'i1'],
      ['I', 'i2'],
      ['N', 'n1'],
      ['N', 'n2'],
    ] as const)
      await host.connect(net, lab.name(role), role === 'b1' ? { mac: '02:42:ac:1e:02:99' } : {});
    for (const role of ['a1', 'a2', 'a3', 'b1', 'i1', 'i2', 'n1', 'n2']) servers.push(await serve(ns(role), 'tcp', 80, role));
    servers.push(await serve(hostNs(), 'tcp', 7777, 'host'));
    servers.push(await serve(outside(), 'tcp', 80, 'outside'));
    await host.publish('A', lab.name('a1'), ['8080:80', '5300:53/udp', '9000-9002:7000-7002']);
    await host.publish('A', lab.name('a2'), ['192.0.2.3:8443:80', '127.0.0.1:8081:80']);
    await host.publish('N', lab.name('n1'), ['8090:80']);
    servers.push(await serve(ns('a1'), 'udp', 53, 'a1-dns'));
    for (const port of [7000, 7001, 7002]) servers.push(await serve(ns('a1'), 'tcp', port, `a1-${port}`));
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await host?.down().catch(() => undefined);
    await lab?.destroy();
  });

  describe('several networks, isolated by default', () => {
    it('containers of one network reach each other', async () => {
      await ok(ns('a1'), '172.30.1.3', 80, 'a2');
    });
    it('no container reaches another network, in either direction', async () => {
      await blocked(ns('a1'), '172.30.2.2', 80); // a1 -> b1
      await blocked(ns('b1'), '172.30.1.2', 80); // b1 -> a1
      await blocked(ns('n1'), '172.30.1.2', 80); // N -> A
      await blocked(ns('a2'), '172.30.4.2', 80); // A -> N
    });
    it("no container reaches another network's gateway address, while its own works", async () => {
      await ok(ns('a1'), '172.30.1.1', 7777, 'host');
      await blocked(ns('a1'), '172.30.2.1', 7777);
      await blocked(ns('b1'), '172.30.1.1', 7777);
    });
    it('a container on two networks reaches both', async () => {
      await ok(ns('a3'), '172.30.1.2', 80, 'a1');
      await ok(ns('a3'), '172.30.2.2', 80, 'b1');
    });
    it('--mtu and --mac are applied', () => {
      expect(execFileSync('ip', ['-n', lab.host, '-o', 'link', 'show', 'nb-B'], { encoding: 'utf8' })).toContain('mtu 1400');
      const b1 = execFileSync('ip', ['-n', lab.name('b1'), '-o', 'link', 'show', 'eth0'], { encoding: 'utf8' });
      expect(b1).toContain('mtu 1400');
      expect(b1).toContain('02:42:ac:1e:02:99');
    });
    it('--ifname and --bridge take names that are words of ip (name, up, dev, master), as Docker takes any', async () => {
      // `ip link set name alias X` reads "name" as its keyword: every link is named with dev/name.
      await host.createNetwork({ name: 'W', subnet: '172.30.9.0/24', bridge: 'up' });
      const box = lab.name('words');
      for (const ifname of ['name', 'up', 'dev', 'master']) {
        await host.createNetwork({ name: `W${ifname}`, subnet: `172.30.${10 + ['name', 'up', 'dev', 'master'].indexOf(ifname)}.0/24` });
        await host.connect(`W${ifname}`, box, { ifname });
      }
      await host.connect('W', box, { ifname: 'type' });
      const inside = execFileSync('ip', ['-n', box, '-o', 'link', 'show'], { encoding: 'utf8' });
      for (const ifname of ['name', 'up', 'dev', 'master', 'type']) expect(inside).toMatch(new RegExp(`: ${ifname}@`));
      expect((await host.status()).drift).toEqual([]);
      for (const ifname of ['name', 'up', 'dev', 'master']) {
        await host.disconnect(`W${ifname}`, box);
        await host.removeNetwork(`W${ifname}`);
      }
      await host.disconnect('W', box);
      await host.removeNetwork('W');
      expect(execFileSync('ip', ['-n', lab.host, '-o', 'link', 'show'], { encoding: 'utf8' })).not.toMatch(/: up:/);
    });
  });

  describe('--internal', () => {
    it('containers reach each other and nothing outside; no default route', async () => {
      await ok(ns('i1'), '172.30.3.3', 80, 'i2');
      await blocked(ns('i1'), UPLINK.outside, 80);
      expect(execFileSync('ip', ['-n', lab.name('i1'), 'route'], { encoding: 'utf8' })).not.toContain('default');
    });
    it('refuses publishing', async () => {
      await expect(host.publish('I', lab.name('i1'), ['8099:80'])).rejects.toThrow(ValidationError);
    });
  });

  describe('--no-icc', () => {
    it('blocks container to container, but not egress or published ports', async () => {
      await blocked(ns('n1'), '172.30.4.3', 80);
      await blocked(ns('n2'), '172.30.4.2', 80);
      await ok(ns('n1'), UPLINK.outside, 80, 'outside');
      await ok(outside(), UPLINK.host, 8090, 'n1');
    });
  });

  describe('publishing', () => {
    it('UDP reaches the container', async () => {
      await ok(outside(), UPLINK.host, 5300, 'a1-dns', 'udp');
    });
    it('a port range maps port to port', async () => {
      await ok(outside(), UPLINK.host, 9000, 'a1-7000');
      await ok(outside(), UPLINK.host, 9001, 'a1-7001');
      await ok(outside(), UPLINK.host, 9002, 'a1-7002');
    });
    it('ranges are one interval element in the address map, not a rule per port', () => {
      const table = execFileSync('nsenter', [`--net=${hostNs()}`, 'nft', 'list', 'map', 'inet', 'nftbridge', 'pub4_range_addr'], {
        encoding: 'utf8',
      });
      expect(table).toContain('0.0.0.0/0 . tcp . 9000-9002 : 172.30.1.2');
    });
    it('a port bound to one host address is refused on another', async () => {
      await ok(outside(), '192.0.2.3', 8443, 'a2');
      await blocked(outside(), UPLINK.host, 8443);
    });
    it('hairpin: a container reaches its own published port and its neighbour’s through the host address', async () => {
      await ok(ns('a1'), UPLINK.host, 8080, 'a1');
      const r = await ok(ns('a2'), UPLINK.host, 8080, 'a1');
      expect(r.peer).toBe('172.30.1.1'); // masqueraded to the gateway, so the reply returns through the host
    });
    it('a container of another network reaches a published port through the host address', async () => {
      await ok(ns('b1'), UPLINK.host, 8080, 'a1');
    });
  });

  describe('localhost publishing', () => {
    it('127.0.0.1:PORT is reachable from the host itself', async () => {
      await ok(hostNs(), '127.0.0.1', 8081, 'a2');
    });
    it('and never from another machine: not its address, not 127.0.0.1 routed or crafted towards the host', async () => {
      await blocked(attacker, ATTACKER.host, 8081);
      await blocked(attacker, '127.0.0.1', 8081);
      await blocked(outside(), UPLINK.host, 8081);
    });
    it('a container cannot use the bridge’s route_localnet to reach the host’s loopback', async () => {
      const local = await serve(hostNs(), 'tcp', 7778, 'host-loopback');
      try {
        execFileSync('ip', ['-n', lab.name('a1'), 'route', 'add', '127.0.0.2/32', 'via', '172.30.1.1']).toString();
      } catch {
        // the kernel may refuse the route outright: then there is nothing to send
        await local.stop();
        return;
      }
      try {
        await blocked(ns('a1'), '127.0.0.2', 7778);
      } finally {
        await local.stop();
      }
    });
  });

  describe('no direct access', () => {
    it("a machine routing the containers' subnet through the host cannot reach them; published ports work", async () => {
      await blocked(attacker, '172.30.1.2', 80);
      await ok(attacker, ATTACKER.host, 8080, 'a1');
    });
  });

  describe('IPv6 dual stack', () => {
    it('containers get both families, a default route, and no DAD delay', () => {
      const a1 = execFileSync('ip', ['-n', lab.name('a1'), '-6', 'addr', 'show', 'eth0'], { encoding: 'utf8' });
      expect(a1).toContain('fd00:30:1::2/64');
      expect(a1).not.toContain('tentative');
      expect(execFileSync('ip', ['-n', lab.name('a1'), '-6', 'route'], { encoding: 'utf8' })).toContain('default via fd00:30:1::1');
      expect(
        execFileSync('nsenter', [`--net=${hostNs()}`, 'cat', '/proc/sys/net/ipv6/conf/nb-A/accept_ra'], { encoding: 'utf8' }).trim(),
      ).toBe('0');
    });
    it('IPv6 egress is masqueraded', async () => {
      const r = await ok(ns('a1'), UPLINK.outside6, 80, 'outside');
      expect(r.peer).toBe(UPLINK.host6);
    });
    it('an IPv6 published port works', async () => {
      await ok(outside(), UPLINK.host6, 8080, 'a1');
    });
  });

  describe('stale conntrack', () => {
    it('a UDP flow started before its port was published reaches the container right after the publish', async () => {
      const flowPort = 40000 + Math.floor(Math.random() * 20000);
      await expect(send(outside(), 'udp', UPLINK.host, 5301, 'early', 500, flowPort)).rejects.toThrow();
      await host.publish('A', lab.name('a1'), ['5301:53/udp']);
      const r = await send(outside(), 'udp', UPLINK.host, 5301, 'late', 2000, flowPort);
      expect(r.server).toBe('a1-dns');
    });
  });
});
