/**
 * An established connection through a published port keeps working, losing nothing, across full
 * table rebuilds and publish/unpublish pairs of other ports (NFTBRIDGE_ESTABLISHED_ROUNDS of each,
 * 100 by default).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Host } from '../../src/index.js';
import { Lab, UPLINK } from '../../src/lab/lab.js';
import { describeKernel } from '../helpers/kernel.js';

const ECHO = `require('net').createServer((s) => s.pipe(s)).listen(7000, () => console.log('ready'))`;
// Sends a numbered line every 5 ms and checks each echo comes back in order; on SIGTERM it waits
// for the echoes still in flight and prints what it saw.
const CLIENT = `
const s = require('net').connect(${JSON.stringify({ host: UPLINK.host, port: 17000 })});
let sent = 0, got = 0, bad = 0, error = null, buf = '';
let tick;
s.on('connect', () => { console.log('ready'); tick = setInterval(() => s.write((sent++) + '\\n'), 5); });
s.on('data', (d) => { buf += d; let i; while ((i = buf.indexOf('\\n')) >= 0) { if (Number(buf.slice(0, i)) !== got) bad++; got++; buf = buf.slice(i + 1); } });
s.on('error', (e) => { error = e.code || e.message; });
s.on('close', () => { error = error || 'closed'; });
// Sending stops first, so every line sent has the same 300 ms to come back.
process.on('SIGTERM', () => clearInterval(tick) || setTimeout(() => { console.log(JSON.stringify({ sent, got, bad, error })); process.exit(0); }, 300));
`;

function start(netns: string, script: string): { child: ChildProcess; ready: Promise<void>; lastLine: Promise<string> } {
  const child = spawn('nsenter', [`--net=${Lab.path(netns)}`, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  let last = '';
  const ready = new Promise<void>((resolve) => lines.once('line', () => resolve()));
  lines.on('line', (l) => (last = l));
  const lastLine = new Promise<string>((resolve) => child.on('exit', () => resolve(last)));
  return { child, ready, lastLine };
}

describeKernel('established connections survive table rebuilds and port changes', () => {
  let lab: Lab;
  let host: Host;
  let server: ReturnType<typeof start> | undefined;
  const rounds = Number(process.env.NFTBRIDGE_ESTABLISHED_ROUNDS ?? 100);

  beforeAll(async () => {
    lab = await Lab.create();
    host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
    await host.createNetwork({ name: 'n', subnet: '10.92.0.0/24' });
    await host.connect('n', lab.name('c'));
    await host.publish('n', lab.name('c'), ['17000:7000']);
    server = start(lab.name('c'), ECHO);
    await server.ready;
  });
  afterAll(async () => {
    server?.child.kill('SIGKILL');
    await host?.down().catch(() => undefined);
    await host?.close();
    await lab?.destroy();
  });

  it('0 lost, in order, connection kept', { timeout: 30_000 + rounds * 1000 }, async () => {
    const client = start(lab.outside, CLIENT);
    await client.ready;
    try {
      for (let i = 0; i < rounds; i++) {
        await host.firewall.rebuild(await host.state()); // a full rebuild of the table, in one transaction
        await host.publish('n', lab.name('c'), [`${18000 + i}:80`]);
        await host.unpublish('n', lab.name('c'), [`${18000 + i}`]);
      }
    } finally {
      client.child.kill('SIGTERM');
    }
    const result = JSON.parse(await client.lastLine) as { sent: number; got: number; bad: number; error: string | null };
    expect(result.error).toBeNull();
    expect(result.bad).toBe(0);
    expect(result.sent).toBeGreaterThan(rounds);
    expect(result.got).toBe(result.sent);
  });
});
