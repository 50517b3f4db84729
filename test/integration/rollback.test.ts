import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Host } from '../../src/index.js';
import { Lab } from '../../src/lab/lab.js';
import { describeKernel } from '../helpers/kernel.js';
import { snapshot } from '../helpers/snapshot.js';

describeKernel('a failed or cancelled operation rolls back what it did', () => {
  let lab: Lab;
  let host: Host;

  beforeAll(async () => {
    lab = await Lab.create();
    host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
    await host.createNetwork({ name: 'n', subnet: '10.77.0.0/24' });
  });
  afterAll(async () => {
    await host?.down().catch(() => undefined);
    await lab?.destroy();
  });

  it('a connect that fails in the kernel removes the namespace it had created', async () => {
    const before = snapshot(lab.host);
    const name = lab.name('fresh');
    // "lo" always exists in a new namespace, so the veth step fails after the namespace was made.
    await expect(host.connect('n', name, { ifname: 'lo' })).rejects.toThrow(/ifname: lo already exists/);
    expect(existsSync(Lab.path(name))).toBe(false);
    expect(snapshot(lab.host)).toEqual(before);
    expect((await host.state()).endpoints).toEqual([]);
  });

  it('unsubscribing from connect$ midway undoes the steps already done', async () => {
    const before = snapshot(lab.host);
    const name = lab.name('cancel');
    const seen: string[] = [];
    await new Promise<void>((resolve) => {
      const sub = host.connect$('n', name).subscribe((ev) => {
        if (ev.type !== 'step') return;
        seen.push(ev.step);
        if (ev.step === 'veth') {
          sub.unsubscribe();
          resolve();
        }
      });
    });
    // The rollback runs after the step in flight; the next operation waits for the lock it holds.
    expect((await host.state()).endpoints).toEqual([]);
    expect(seen).toEqual(['netns', 'firewall', 'veth']);
    expect(existsSync(Lab.path(name))).toBe(false);
    expect(snapshot(lab.host)).toEqual(before);
  });

  it('createNetwork with a bridge name already taken by a foreign interface leaves that interface alone', async () => {
    execFileSync('ip', ['-n', lab.host, 'link', 'add', 'taken0', 'type', 'bridge']);
    const before = snapshot(lab.host);
    await expect(host.createNetwork({ name: 'm', subnet: '10.78.0.0/24', bridge: 'taken0' })).rejects.toThrow(
      /bridge: an interface named taken0 already exists/,
    );
    expect(JSON.stringify(snapshot(lab.host), null, 1)).toEqual(JSON.stringify(before, null, 1));
    expect((await host.state()).networks.map((n) => n.name)).toEqual(['n']);
  });

  it('a publish when somebody deleted the table rebuilds it instead of failing', async () => {
    const c = lab.name('pub');
    await host.connect('n', c);
    execFileSync('nsenter', [`--net=${Lab.path(lab.host)}`, 'nft', 'delete', 'table', 'inet', 'nftbridge']);
    await host.publish('n', c, ['8088:80']);
    const table = execFileSync('nsenter', [`--net=${Lab.path(lab.host)}`, 'nft', 'list', 'map', 'inet', 'nftbridge', 'pub4_tcp_addr'], {
      encoding: 'utf8',
    });
    expect(table).toContain('8088 : 10.77.0.');
    expect((await host.status()).drift).toEqual([]);
    await host.disconnect('n', c);
  });

  it('a table of the release before (ports keyed by protocol . port) is replaced by the next publish, with the port in the new maps', async () => {
    const c = lab.name('old');
    await host.connect('n', c);
    const nft = (...args: string[]) => execFileSync('nsenter', [`--net=${Lab.path(lab.host)}`, 'nft', ...args], { encoding: 'utf8' });
    nft('delete', 'table', 'inet', 'nftbridge');
    execFileSync('nsenter', [`--net=${Lab.path(lab.host)}`, 'nft', '-f', '-'], {
      input:
        'table inet nftbridge {\n  map pub4_any_addr { type inet_proto . inet_service : ipv4_addr; elements = { tcp . 8090 : 10.77.0.9 }; }\n}\n',
    });
    expect((await host.status()).drift).toContainEqual({ kind: 'set', subject: 'pub4_any_addr', reason: 'unexpected set' });
    await host.publish('n', c, ['8089:80']);
    const table = nft('list', 'table', 'inet', 'nftbridge');
    expect(table).not.toContain('pub4_any');
    expect(nft('list', 'map', 'inet', 'nftbridge', 'pub4_tcp_addr')).toContain('8089 : 10.77.0.');
    expect((await host.status()).drift).toEqual([]);
    await host.disconnect('n', c);
  });
});
