import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { filter, firstValueFrom, map, scan } from 'rxjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Host, isKind } from '../../src/index.js';
import { Lab } from '../../src/lab/lab.js';
import { CLI, cliOk } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';
import { alive, childrenOf, eventually } from '../helpers/wait.js';

describeKernel('watch and topology events', () => {
  let lab: Lab;
  let g: string[];

  beforeAll(async () => {
    lab = await Lab.create();
    g = ['--netns', lab.host, '--state-dir', lab.stateDir];
    cliOk([...g, 'network', 'create', 'w', '--subnet', '10.61.0.0/24']);
    cliOk([...g, 'connect', 'w', lab.name('c1')]);
    cliOk([...g, 'publish', 'w', lab.name('c1'), ...Array.from({ length: 30 }, (_, i) => `${9100 + i}:80`)]);
  });
  afterAll(async () => {
    cliOk([...g, 'down']);
    await lab?.destroy();
  });

  it('host.events$() is a typed stream any program can filter by kind', async () => {
    const host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
    // The monitor starts when subscribed, and says nothing when it is ready: probes go out until one
    // is seen whole (added, then deleted), each under a name of its own so no half-seen one counts.
    const links = firstValueFrom(
      host.events$().pipe(
        filter(isKind('link')),
        filter((e) => e.name.startsWith('probe')),
        scan((seen, e) => [...seen, e], [] as { name: string; action: string; kind?: string }[]),
        map((seen) => seen.filter((e) => seen.some((a) => a.name === e.name && a.action === 'added'))),
        filter((seen) => seen.some((e) => e.action === 'deleted')),
      ),
    );
    let done = false;
    void links.finally(() => (done = true));
    for (let i = 0; i < 50 && !done; i++) {
      execFileSync('ip', ['-n', lab.host, 'link', 'add', `probe${i}`, 'type', 'bridge']);
      execFileSync('ip', ['-n', lab.host, 'link', 'del', `probe${i}`]);
      await new Promise((r) => setTimeout(r, 200));
    }
    const events = await links;
    expect(events[0]).toMatchObject({ type: 'link', action: 'added', kind: 'bridge' });
    expect(events[1]).toMatchObject({ type: 'link', action: 'deleted', name: events[0]?.name });
    await host.close();
  });

  it('nftbridge watch --json prints one typed object per line, repairs, and exits 0 on SIGTERM leaving no child', async () => {
    const child = spawn(process.execPath, [CLI, ...g, '--json', 'watch'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Record<string, unknown>[] = [];
    createInterface({ input: child.stdout }).on('line', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
    // 'close', not 'exit': the last lines may still be in the pipe when the process exits.
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    await eventually(() => expect(lines.some((l) => l.type === 'idle')).toBe(true));
    execFileSync('nsenter', [`--net=${Lab.path(lab.host)}`, 'nft', 'delete', 'table', 'inet', 'nftbridge']);
    await eventually(() => expect(lines.some((l) => l.type === 'applied')).toBe(true));
    expect(lines.find((l) => l.type === 'drift')).toMatchObject({
      drift: [{ kind: 'table', subject: 'nftbridge', reason: 'table is missing' }],
    });
    expect(lines.some((l) => l.type === 'ruleset')).toBe(true);
    // The rebuild's 60 port-map elements: a run of one set's element events is one line with a count.
    // (Read as they come: the monitor's lines may still be on their way after "applied".)
    const elements = () => lines.filter((l) => l.type === 'ruleset' && l.object === 'element' && l.action === 'add');
    const counted = (name: string) =>
      elements()
        .filter((l) => l.name === name)
        .reduce((n, l) => n + (typeof l.count === 'number' ? l.count : 1), 0);
    await eventually(() => expect(counted('pub4_tcp_addr')).toBeGreaterThanOrEqual(30));
    await eventually(() => expect(counted('pub4_tcp_port')).toBeGreaterThanOrEqual(30));
    expect(elements().filter((l) => l.name === 'pub4_tcp_port').length).toBeLessThan(30);
    expect(elements().some((l) => typeof l.count === 'number' && l.count > 1)).toBe(true);
    // The host firewall report, once at start (no firewall in this lab: none found, marks on).
    expect(lines.find((l) => l.type === 'host-firewall')).toMatchObject({ mode: 'auto', markMask: '0xff000000', firewalls: [] });
    expect(lines.every((l) => typeof l.type === 'string')).toBe(true);
    const kids = childrenOf(child.pid ?? -1);
    expect(kids.length).toBeGreaterThanOrEqual(2);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(lines.at(-1)).toEqual({ type: 'stopped', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/) as unknown as string });
    expect(lines.every((l) => typeof (l as { time?: unknown }).time === 'string')).toBe(true);
    expect(kids.filter(alive)).toEqual([]);
  });
});
