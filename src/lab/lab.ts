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

export const UPLINK = { host: '192.0.2.1', outside: '192.0.2.2', prefix: 24 } as const;

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
        ['link', 'set', 'uplink0', 'up'],
      ]);
      await out.batch([
        ['link', 'set', 'lo', 'up'],
        ['addr', 'add', `${UPLINK.outside}/${UPLINK.prefix}`, 'dev', 'eth0'],
        ['link', 'set', 'eth0', 'up'],
      ]);
      return lab;
    } catch (err) {
      await lab.destroy();
      throw err;
    }
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
    const names = new Set([...this.made, ...stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(prefix))]);
    for (const name of names) await this.runner.run('ip', ['netns', 'del', name]).catch(() => undefined);
    await rm(this.stateDir, { recursive: true, force: true });
  }
}
