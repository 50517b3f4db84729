import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Lab, UPLINK } from '../../src/lab/lab.js';
import { send, serve, type Server } from '../../src/lab/traffic.js';
import { cli, cliOk } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';
import { nftTableData, snapshot, type Snapshot } from '../helpers/snapshot.js';

const payload = () => randomBytes(12).toString('hex');

describeKernel('the seed through the CLI, with real traffic', () => {
  let lab: Lab;
  let g: string[];
  let before: Snapshot;
  const servers: Server[] = [];
  let ns1: string;
  let ns2: string;

  beforeAll(async () => {
    lab = await Lab.create();
    before = snapshot(lab.host);
    g = ['--netns', lab.host, '--state-dir', lab.stateDir];
    ns1 = lab.name('ns1');
    ns2 = lab.name('ns2');
    cliOk([...g, 'network', 'create', 'seed', '--subnet', '172.18.0.0/24', '--gateway', '172.18.0.1', '--bridge', 'br0']);
    cliOk([...g, 'connect', 'seed', ns1, '--ip', '172.18.0.2', '--ifname', 'veth0']);
    cliOk([...g, 'connect', 'seed', ns2, '--ip', '172.18.0.3', '--ifname', 'veth2']);
    cliOk([...g, 'publish', 'seed', ns1, '80:80/tcp', '8443:443']);
    for (const [ns, name, port] of [
      [ns1, 'ns1', 80],
      [ns1, 'ns1-443', 443],
      [ns2, 'ns2', 80],
      [lab.outside, 'outside', 80],
    ] as const)
      servers.push(await serve(Lab.path(ns), 'tcp', port, name));
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    cli([...(g ?? []), 'down']);
    await lab?.destroy();
  });

  it('network ls and status --json describe what was made', () => {
    expect(cliOk([...g, 'network', 'ls'])).toMatch(/seed\s+br0\s+172\.18\.0\.0\/24\s+172\.18\.0\.1\s+2/);
    // NFTBRIDGE_NETNS selects the host namespace as --netns does.
    const viaEnv = cli(['--state-dir', lab.stateDir, 'network', 'ls'], { NFTBRIDGE_NETNS: lab.host });
    expect(viaEnv.stdout).toMatch(/seed\s+br0/);
    const status = JSON.parse(cliOk([...g, '--json', 'status'])) as {
      state: { endpoints: { ifname: string }[]; ports: unknown[] };
      drift: unknown[];
    };
    expect(status.state.endpoints.map((e) => e.ifname).sort()).toEqual(['veth0', 'veth2']);
    expect(status.state.ports).toHaveLength(2);
    expect(status.drift).toEqual([]);
  });

  it('the five checks of the seed', async () => {
    const p = payload();
    expect(await send(Lab.path(ns1), 'tcp', '172.18.0.3', 80, p)).toEqual({ server: 'ns2', peer: '172.18.0.2', payload: p });
    expect((await send(Lab.path(lab.host), 'tcp', '172.18.0.2', 80, p)).server).toBe('ns1');
    expect(await send(Lab.path(ns1), 'tcp', UPLINK.outside, 80, p)).toEqual({ server: 'outside', peer: UPLINK.host, payload: p });
    expect(await send(Lab.path(lab.outside), 'tcp', UPLINK.host, 80, p)).toEqual({ server: 'ns1', peer: UPLINK.outside, payload: p });
    expect((await send(Lab.path(lab.outside), 'tcp', UPLINK.host, 8443, p)).server).toBe('ns1-443');
    expect((await send(Lab.path(lab.host), 'tcp', UPLINK.host, 80, p)).server).toBe('ns1');
  });

  it("the host's outbound port 80 to another machine is not hijacked", async () => {
    expect((await send(Lab.path(lab.host), 'tcp', UPLINK.outside, 80, payload())).server).toBe('outside');
  });

  it('ruleset prints the document without applying it; apply is idempotent', () => {
    const doc = JSON.parse(cliOk([...g, 'ruleset'])) as { nftables: unknown[] };
    expect(doc.nftables[0]).toEqual({ add: { table: { family: 'inet', name: 'nftbridge' } } });
    cliOk([...g, 'apply']);
    const once = nftTableData(lab.host);
    cliOk([...g, 'apply']);
    expect(nftTableData(lab.host)).toEqual(once);
  });

  it('unpublish, disconnect, network rm and down undo everything', async () => {
    cliOk([...g, 'unpublish', 'seed', ns1, '8443/tcp']);
    await expect(send(Lab.path(lab.outside), 'tcp', UPLINK.host, 8443, payload(), 1000)).rejects.toThrow();
    cliOk([...g, 'disconnect', 'seed', ns2]);
    expect(cli([...g, 'network', 'rm', 'seed']).status).not.toBe(0); // ns1 still connected
    cliOk([...g, 'disconnect', 'seed', ns1]);
    cliOk([...g, 'network', 'rm', 'seed']);
    cliOk([...g, 'down']);
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    expect(snapshot(lab.host)).toEqual(before);
    const state = JSON.parse(readFileSync(`${lab.stateDir}/netns-${lab.host}.json`, 'utf8')) as { networks: unknown[] };
    expect(state.networks).toEqual([]);
  });
});
