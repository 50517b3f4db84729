/**
 * What must keep holding under concurrency: 40 parallel connects and 30 parallel publishes from as
 * many processes, one host port wanted by two processes (exactly one wins), two Host objects on
 * one state directory; every success saved, no address or port twice, no drift afterwards.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Host } from '../../src/index.js';
import { Lab } from '../../src/lab/lab.js';
import { cli, CLI, cliOk } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';

const run = (args: string[]) =>
  new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stderr }));
  });

describeKernel('concurrent operations from many processes', () => {
  let lab: Lab;
  let g: string[];
  const status = () =>
    JSON.parse(cliOk([...g, '--json', 'status'])) as {
      state: { endpoints: { container: string; addresses: string[] }[]; ports: { hostPort: number; container: string }[] };
      drift: unknown[];
    };

  beforeAll(async () => {
    lab = await Lab.create();
    g = ['--netns', lab.host, '--state-dir', lab.stateDir];
    cliOk([...g, 'network', 'create', 'n', '--subnet', '10.91.0.0/24']);
  });
  afterAll(async () => {
    cli([...(g ?? []), 'down']);
    await lab?.destroy();
  });

  it('40 parallel connects: all saved, 40 distinct addresses', { timeout: 120_000 }, async () => {
    const names = Array.from({ length: 40 }, (_, i) => lab.name(`p${i}`));
    const results = await Promise.all(names.map((n) => run([...g, 'connect', 'n', n])));
    expect(results.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([]);
    const s = status();
    expect(s.state.endpoints.map((e) => e.container).sort()).toEqual([...names].sort());
    expect(new Set(s.state.endpoints.flatMap((e) => e.addresses)).size).toBe(40);
    expect(s.drift).toEqual([]);
  });

  it('30 parallel publishes, and one port wanted by two processes: exactly one wins', { timeout: 120_000 }, async () => {
    const results = await Promise.all([
      ...Array.from({ length: 30 }, (_, i) => run([...g, 'publish', 'n', lab.name(`p${i}`), `${21000 + i}:80`])),
      run([...g, 'publish', 'n', lab.name('p30'), '22000:80']),
      run([...g, 'publish', 'n', lab.name('p31'), '22000:80']),
    ]);
    expect(
      results
        .slice(0, 30)
        .filter((r) => r.code !== 0)
        .map((r) => r.stderr),
    ).toEqual([]);
    const contested = results.slice(30);
    expect(contested.map((r) => r.code).sort()).toEqual([0, 2]);
    expect(contested.find((r) => r.code === 2)?.stderr).toMatch(/22000\/tcp is already published/);
    const s = status();
    expect(s.state.ports).toHaveLength(31);
    expect(new Set(s.state.ports.map((p) => p.hostPort)).size).toBe(31);
    expect(s.drift).toEqual([]);
  });

  it('two Host objects on one state directory see each other and never interleave', async () => {
    const [a, b] = await Promise.all([
      Host.open({ netns: lab.host, stateDir: lab.stateDir }),
      Host.open({ netns: lab.host, stateDir: lab.stateDir }),
    ]);
    try {
      await Promise.all([
        a.publish('n', lab.name('p32'), ['23000:80']),
        b.publish('n', lab.name('p33'), ['23001:80']),
        a.connect('n', lab.name('q1')),
        b.connect('n', lab.name('q2')),
      ]);
      const seen = [await a.state(), await b.state()].map((s) => s.ports.length);
      expect(seen).toEqual([33, 33]);
      expect((await a.status()).drift).toEqual([]);
      const addrs = (await b.state()).endpoints.flatMap((e) => e.addresses);
      expect(new Set(addrs).size).toBe(addrs.length);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
