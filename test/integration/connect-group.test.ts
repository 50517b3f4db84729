/**
 * Connects made together commit together (ops/connect-group.ts), on the real kernel: eight at once
 * plus one that fails midway (its namespace has an eth0 already). The group is rolled back, each
 * call runs again alone, and only that one fails; the eight carry traffic and nothing is left over.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ConflictError, Host } from '../../src/index.js';
import { Lab, UPLINK } from '../../src/lab/lab.js';
import { send, serve, type Server } from '../../src/lab/traffic.js';
import { describeKernel } from '../helpers/kernel.js';

const payload = () => randomBytes(12).toString('hex');
const links = (ns: string) =>
  (JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string }[]).map((l) => l.ifname);

describeKernel('connects made together', () => {
  let lab: Lab;
  let host: Host;
  const servers: Server[] = [];
  let names: string[];
  let taken: string;
  let results: PromiseSettledResult<unknown>[];

  beforeAll(async () => {
    lab = await Lab.create();
    host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
    await host.createNetwork({ name: 'g', subnet: '10.93.0.0/24' });
    names = Array.from({ length: 8 }, (_, i) => lab.name(`g${i}`));
    // A namespace of somebody else's whose eth0 exists already: its connect fails at the veth.
    taken = lab.name('taken');
    execFileSync('ip', ['netns', 'add', taken]);
    execFileSync('ip', ['-n', taken, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p']);
    const calls = [...names.slice(0, 4), `/run/netns/${taken}`, ...names.slice(4)].map((c) => host.connect('g', c));
    results = await Promise.allSettled(calls);
    await host.publish('g', names[0] as string, ['8080:80/tcp']);
    for (const n of [names[0], names[7], lab.outside] as string[]) servers.push(await serve(Lab.path(n), 'tcp', 80, n));
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await host?.down().catch(() => undefined);
    await host?.close();
    await lab?.destroy();
  });

  it('each call gets its own outcome: eight endpoints, and a ConflictError naming ifname for the one that failed', async () => {
    expect(results.map((r) => r.status)).toEqual([...Array(4).fill('fulfilled'), 'rejected', ...Array(4).fill('fulfilled')]);
    const failed = results[4] as PromiseRejectedResult;
    expect(failed.reason).toBeInstanceOf(ConflictError);
    expect((failed.reason as ConflictError).field).toBe('ifname');
    const state = await host.state();
    expect(state.endpoints.map((e) => e.container).sort()).toEqual([...names].sort());
    expect(new Set(state.endpoints.map((e) => e.addresses[0])).size).toBe(8);
  });

  it('nothing is left of the rollback: the foreign namespace as it was, one veth per endpoint, no drift', async () => {
    expect(links(taken).sort()).toEqual(['eth0', 'eth0p', 'lo']);
    const state = await host.state();
    const veths = links(lab.host).filter((l) => l.startsWith('veth'));
    expect(veths.sort()).toEqual(state.endpoints.map((e) => e.hostIfname).sort());
    expect((await host.status()).drift).toEqual([]);
  });

  it('they carry traffic: container to container, to the outside masqueraded, and a published port', async () => {
    const state = await host.state();
    const addr = (c: string) => state.endpoints.find((e) => e.container === c)?.addresses[0] as string;
    let p = payload();
    expect(await send(Lab.path(names[3] as string), 'tcp', addr(names[7] as string), 80, p)).toEqual({
      server: names[7],
      peer: addr(names[3] as string),
      payload: p,
    });
    p = payload();
    expect(await send(Lab.path(names[5] as string), 'tcp', UPLINK.outside, 80, p)).toEqual({
      server: lab.outside,
      peer: UPLINK.host,
      payload: p,
    });
    p = payload();
    expect((await send(Lab.path(lab.outside), 'tcp', UPLINK.host, 8080, p)).server).toBe(names[0]);
  });

  it('four more at once commit as one: one journal line, and they reach one another', async () => {
    const lines = () => readFileSync(host.store.journal, 'utf8').split('\n').filter(Boolean).length;
    const before = lines();
    const more = Array.from({ length: 4 }, (_, i) => lab.name(`m${i}`));
    const eps = await Promise.all(more.map((c) => host.connect('g', c)));
    expect(lines() - before).toBe(1);
    const p = payload();
    const to = eps[3]?.addresses[0] as string;
    const s = await serve(Lab.path(more[3] as string), 'tcp', 81, 'm3');
    try {
      expect(await send(Lab.path(more[0] as string), 'tcp', to, 81, p)).toEqual({ server: 'm3', peer: eps[0]?.addresses[0], payload: p });
    } finally {
      await s.stop();
    }
    expect((await host.status()).drift).toEqual([]);
  });
});
