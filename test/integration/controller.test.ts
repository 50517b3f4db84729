import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Controller, Host, type ErrorReport } from '../../src/index.js';
import { Lab, UPLINK } from '../../src/lab/lab.js';
import { send, serve, type Server } from '../../src/lab/traffic.js';
import { cliAsync } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';
import { nftTable } from '../helpers/snapshot.js';
import { alive, eventually } from '../helpers/wait.js';

describeKernel('the controller repairs the host while it runs', () => {
  let lab: Lab;
  let host: Host;
  let controller: Controller;
  let c1: string;
  let c2: string;
  const servers = new Map<string, Server>();
  const errors: ErrorReport[] = [];
  const nsh = (...args: string[]) => execFileSync('nsenter', [`--net=${Lab.path(lab.host)}`, ...args], { encoding: 'utf8' });

  const reach = async (port: number, server: string) => {
    const p = randomBytes(6).toString('hex');
    const r = await send(Lab.path(lab.outside), 'tcp', UPLINK.host, port, p, 1500);
    expect(r.server).toBe(server);
    expect(r.payload).toBe(p);
  };

  beforeAll(async () => {
    lab = await Lab.create();
    host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
    c1 = lab.name('c1');
    c2 = lab.name('c2');
    await host.createNetwork({ name: 'n', subnet: '10.60.0.0/24' });
    await host.connect('n', c1);
    await host.connect('n', c2);
    await host.publish('n', c1, ['8080:80']);
    await host.publish('n', c2, ['8081:80']);
    servers.set(c1, await serve(Lab.path(c1), 'tcp', 80, 'c1'));
    servers.set(c2, await serve(Lab.path(c2), 'tcp', 80, 'c2'));
    controller = host.controller({ coalesceMs: 20, resyncMs: 600_000 });
    controller.hooks.on('error', (e) => void errors.push(e));
    controller.start();
    controller.start(); // idempotent
    await eventually(() => expect(controller.childProcesses).toHaveLength(2));
  });

  afterAll(async () => {
    await controller?.stop();
    await Promise.all([...servers.values()].map((s) => s.stop()));
    await host?.down().catch(() => undefined);
    await lab?.destroy();
  });

  it('keeps up with 450 flush and delete operations, ending converged with no error', { timeout: 120_000 }, async () => {
    const { execa } = await import('execa');
    const ops = [
      ['flush', 'ruleset'],
      ['delete', 'table', 'inet', 'nftbridge'],
      ['delete', 'table', 'bridge', 'nftbridge'],
    ];
    const before = errors.length;
    for (let i = 0; i < 450; i++) await execa('nsenter', [`--net=${Lab.path(lab.host)}`, 'nft', ...(ops[i % 3] ?? [])], { reject: false });
    await eventually(async () => expect((await host.status()).drift).toEqual([]), 10_000);
    await reach(8080, 'c1');
    expect(errors.slice(before).filter((e) => e.source === 'converge')).toEqual([]);
  });

  it('nft flush ruleset is repaired and the published port works again', async () => {
    await reach(8080, 'c1');
    nsh('nft', 'flush', 'ruleset');
    await eventually(() => reach(8080, 'c1'));
    await reach(8081, 'c2');
  });

  it('nft delete table is repaired', async () => {
    nsh('nft', 'delete', 'table', 'inet', 'nftbridge');
    await eventually(() => reach(8080, 'c1'));
    expect(nftTable(lab.host)).toContain('8081 : 10.60.0.3');
  });

  it('a rule added by someone else to the table is removed', async () => {
    nsh('nft', 'add', 'rule', 'inet', 'nftbridge', 'prerouting', 'tcp', 'dport', '8080', 'drop');
    await eventually(() => expect(nftTable(lab.host)).not.toContain('tcp dport 8080 drop'));
    await reach(8080, 'c1');
  });

  it('a deleted bridge comes back with its gateway, and the endpoints are reachable again', async () => {
    nsh('ip', 'link', 'del', 'nb-n');
    await eventually(() => reach(8080, 'c1'));
    await eventually(() => reach(8081, 'c2'));
    expect(nsh('ip', '-o', 'addr', 'show', 'dev', 'nb-n')).toContain('10.60.0.1/24');
    expect((await send(Lab.path(lab.host), 'tcp', '10.60.0.2', 80, 'x')).server).toBe('c1');
  });

  it('a removed gateway address is restored', async () => {
    nsh('ip', 'addr', 'del', '10.60.0.1/24', 'dev', 'nb-n');
    await eventually(() => expect(nsh('ip', '-o', 'addr', 'show', 'dev', 'nb-n')).toContain('10.60.0.1/24'));
    await eventually(() => reach(8080, 'c1'));
  });

  it('a removed subnet route is restored', async () => {
    nsh('ip', 'route', 'del', '10.60.0.0/24', 'dev', 'nb-n');
    await eventually(() => expect(nsh('ip', 'route', 'show', '10.60.0.0/24')).toContain('dev nb-n'));
    await eventually(() => reach(8080, 'c1'));
  });

  it('a container namespace deleted takes its published ports out of the table, the other keeps working, and they return with it', async () => {
    await servers.get(c2)?.stop(); // a process inside would keep the namespace alive
    servers.delete(c2);
    execFileSync('ip', ['netns', 'del', c2]);
    await eventually(() => expect(nftTable(lab.host)).not.toContain('8081'));
    await reach(8080, 'c1');
    expect((await host.state()).ports.map((p) => p.hostPort).sort()).toEqual([8080, 8081]); // still desired

    execFileSync('ip', ['netns', 'add', c2]);
    await eventually(() => expect(nftTable(lab.host)).toContain('8081 : 10.60.0.3'));
    await eventually(async () => {
      servers.set(c2, servers.get(c2) ?? (await serve(Lab.path(c2), 'tcp', 80, 'c2')));
      await reach(8081, 'c2');
    });
  });

  it('a publish made by another process is applied', async () => {
    servers.set('c1-90', await serve(Lab.path(c1), 'tcp', 90, 'c1-90'));
    const r = await cliAsync(['--netns', lab.host, '--state-dir', lab.stateDir, 'publish', 'n', c1, '9090:90']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    await reach(9090, 'c1-90');
    // A program that only edits the desired state (no kernel access of its own): the controller applies it.
    const other = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
    const state = await other.state();
    const ep = state.endpoints.find((e) => e.container === c1);
    expect(ep).toBeDefined();
    await other.store.write({
      ...state,
      ports: [...state.ports, { network: 'n', container: c1, protocol: 'tcp', hostPort: 9091, hostPortEnd: 9091, containerPort: 90 }],
    });
    await eventually(() => reach(9091, 'c1-90'));
  });

  it('a killed monitor process is restarted, and repairs keep working', async () => {
    const ipMon = controller.childProcesses.find((c) => c.command.startsWith('ip '));
    expect(ipMon).toBeDefined();
    process.kill(ipMon!.pid, 'SIGKILL');
    await eventually(() => expect(errors.some((e) => e.source === 'ip-monitor' && e.attempt === 1)).toBe(true));
    await eventually(() =>
      expect(controller.childProcesses.filter((c) => c.command.startsWith('ip ')).map((c) => c.pid)).not.toContain(ipMon!.pid),
    );
    await eventually(() => expect(controller.childProcesses).toHaveLength(2));
    nsh('ip', 'addr', 'del', '10.60.0.1/24', 'dev', 'nb-n');
    await eventually(() => expect(nsh('ip', '-o', 'addr', 'show', 'dev', 'nb-n')).toContain('10.60.0.1/24'));
  });

  it('stop() ends every child process, and is idempotent', async () => {
    const pids = controller.childProcesses.map((c) => c.pid);
    expect(pids.length).toBe(2);
    await controller.stop();
    await controller.stop();
    expect(pids.filter(alive)).toEqual([]);
    expect(controller.childProcesses).toEqual([]);
    expect(controller.running).toBe(false);
  });
});
