/**
 * A disposable lab for the demo and the tests: a "host" namespace and an "outside" machine joined
 * by an uplink with TEST-NET-1 addresses. Every name carries a random id; destroy() removes it all.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultRunner, type Runner } from '../exec/runner.js';
import { Ip } from '../ip/ip.js';

export const UPLINK = {
  host: '192.0.2.1',
  outside: '192.0.2.2',
  prefix: 24,
  host6: '2001:db8::1',
  outside6: '2001:db8::2',
  prefix6: 64,
} as const;
/** The attacker's link to the host (TEST-NET-2). */
export const ATTACKER = { host: '198.51.100.1', attacker: '198.51.100.2', prefix: 24 } as const;

export class Lab {
  private readonly made: string[] = [];

  private constructor(
    readonly id: string,
    readonly stateDir: string,
    readonly runner: Runner,
  ) {}

  /** Namespace name of the lab's host (pass it as `--netns` / `Host.open({ netns })`). */
  get host(): string {
    return this.name('host');
  }
  get outside(): string {
    return this.name('out');
  }

  /** A lab-unique namespace name; containers named this way are cleaned up with the lab. */
  name(role: string): string {
    return `nb${this.id}-${role}`;
  }

  static path(name: string): string {
    return `/run/netns/${name}`;
  }

  static async create(runner: Runner = defaultRunner): Promise<Lab> {
    const lab = new Lab(randomBytes(3).toString('hex'), await mkdtemp(join(tmpdir(), 'nftbridge-lab-')), runner);
    try {
      await lab.addNetns(lab.host);
      await lab.addNetns(lab.outside);
      const host = new Ip(runner, Lab.path(lab.host));
      const out = new Ip(runner, Lab.path(lab.outside));
      await host.batch([
        ['link', 'set', 'lo', 'up'],
        ['link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', Lab.path(lab.outside)],
        ['addr', 'add', `${UPLINK.host}/${UPLINK.prefix}`, 'dev', 'uplink0'],
        ['addr', 'add', `${UPLINK.host6}/${UPLINK.prefix6}`, 'dev', 'uplink0', 'nodad'],
        ['link', 'set', 'uplink0', 'up'],
      ]);
      await out.batch([
        ['link', 'set', 'lo', 'up'],
        ['addr', 'add', `${UPLINK.outside}/${UPLINK.prefix}`, 'dev', 'eth0'],
        ['addr', 'add', `${UPLINK.outside6}/${UPLINK.prefix6}`, 'dev', 'eth0', 'nodad'],
        ['link', 'set', 'eth0', 'up'],
      ]);
      return lab;
    } catch (err) {
      await lab.destroy();
      throw err;
    }
  }

  /**
   * An "attacker" machine on its own link to the host, routing `routes` via the host. A route for
   * 127.0.0.0/8 is made to really leave the machine (its local rule moved behind, route_localnet
   * on), so it sends crafted packets for the host's loopback addresses.
   */
  async addAttacker(routes: readonly string[]): Promise<string> {
    const name = this.name('att');
    const path = await this.addNetns(name);
    const host = new Ip(this.runner, Lab.path(this.host));
    const att = new Ip(this.runner, path);
    await host.batch([
      ['link', 'add', 'att0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', path],
      ['addr', 'add', `${ATTACKER.host}/${ATTACKER.prefix}`, 'dev', 'att0'],
      ['link', 'set', 'att0', 'up'],
    ]);
    await att.batch([
      ['link', 'set', 'lo', 'up'],
      ['addr', 'add', `${ATTACKER.attacker}/${ATTACKER.prefix}`, 'dev', 'eth0'],
      ['link', 'set', 'eth0', 'up'],
    ]);
    for (const dst of routes) {
      if (dst.startsWith('127.')) {
        await this.runner.run('tee', ['/proc/sys/net/ipv4/conf/eth0/route_localnet'], { input: '1', netns: path });
        await att.batch([
          ['route', 'add', dst, 'via', ATTACKER.host, 'dev', 'eth0', 'table', '100'],
          ['rule', 'add', 'to', dst, 'table', '100', 'pref', '10'],
          ['rule', 'add', 'pref', '100', 'lookup', 'local'],
          ['rule', 'del', 'pref', '0'],
        ]);
      } else await att.run(['route', 'add', dst, 'via', ATTACKER.host, 'dev', 'eth0']);
    }
    return path;
  }

  async addNetns(name: string): Promise<string> {
    await this.runner.run('ip', ['netns', 'add', name]);
    this.made.push(name);
    return Lab.path(name);
  }

  /** Removes every namespace of this lab (also the containers nftbridge left, if a test failed). */
  async destroy(): Promise<void> {
    const { stdout } = await this.runner.run('ip', ['netns', 'list']).catch(() => ({ stdout: '' }));
    const prefix = `nb${this.id}-`;
    const names = new Set([
      ...this.made,
      ...stdout
        .split('\n')
        .map((l) => l.split(' ')[0] ?? '')
        .filter((n) => n.startsWith(prefix)),
    ]);
    for (const name of names) await this.runner.run('ip', ['netns', 'del', name]).catch(() => undefined);
    await rm(this.stateDir, { recursive: true, force: true });
  }
}
