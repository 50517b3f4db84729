import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Host, renderRuleset } from '../../src/index.js';
import { Lab, UPLINK } from '../../src/lab/lab.js';
import { send, serve, type Server } from '../../src/lab/traffic.js';
import { describeKernel } from '../helpers/kernel.js';
import { nftTableData, snapshot, type Snapshot } from '../helpers/snapshot.js';

const payload = () => randomBytes(12).toString('hex');

describeKernel('the seed through the API, with real traffic', () => {
  let lab: Lab;
  let host: Host;
  let before: Snapshot;
  const servers: Server[] = [];
  let ns1: string;
  let ns2: string;

  beforeAll(async () => {
    lab = await Lab.create();
    before = snapshot(lab.host);
    host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
    ns1 = lab.name('ns1');
    ns2 = lab.name('ns2');
    await host.createNetwork({ name: 'seed', subnet: '172.18.0.0/24', bridge: 'br0' });
    const e1 = await host.connect('seed', ns1);
    const e2 = await host.connect('seed', ns2);
    expect(e1.addresses).toEqual(['172.18.0.2']);
    expect(e2.addresses).toEqual(['172.18.0.3']);
    await host.publish('seed', ns1, ['8080:80/tcp']);
    for (const [ns, name] of [
      [ns1, 'ns1'],
      [ns2, 'ns2'],
      [lab.outside, 'outside'],
    ] as const)
      servers.push(await serve(Lab.path(ns), 'tcp', 80, name));
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await host?.down().catch(() => undefined);
    await lab?.destroy();
  });

  it('1: container to container on one bridge', async () => {
    const p = payload();
    const r = await send(Lab.path(ns1), 'tcp', '172.18.0.3', 80, p);
    expect(r).toEqual({ server: 'ns2', peer: '172.18.0.2', payload: p });
  });

  it('2: host to container', async () => {
    const p = payload();
    const r = await send(Lab.path(lab.host), 'tcp', '172.18.0.2', 80, p);
    expect(r).toEqual({ server: 'ns1', peer: '172.18.0.1', payload: p });
  });

  it('3: container to outside, masqueraded to the host address', async () => {
    const p = payload();
    const r = await send(Lab.path(ns2), 'tcp', UPLINK.outside, 80, p);
    expect(r).toEqual({ server: 'outside', peer: UPLINK.host, payload: p });
  });

  it('4: outside to the published port', async () => {
    const p = payload();
    const r = await send(Lab.path(lab.outside), 'tcp', UPLINK.host, 8080, p);
    expect(r).toEqual({ server: 'ns1', peer: UPLINK.outside, payload: p });
  });

  it('5: the host to its own published port', async () => {
    const p = payload();
    const r = await send(Lab.path(lab.host), 'tcp', UPLINK.host, 8080, p);
    expect(r.server).toBe('ns1');
    expect(r.payload).toBe(p);
  });

  it("the host's own traffic to another machine's published port number is not hijacked", async () => {
    const outside8080 = await serve(Lab.path(lab.outside), 'tcp', 8080, 'outside-8080');
    try {
      const p = payload();
      const r = await send(Lab.path(lab.host), 'tcp', UPLINK.outside, 8080, p);
      expect(r).toEqual({ server: 'outside-8080', peer: UPLINK.host, payload: p });
    } finally {
      await outside8080.stop();
    }
  });

  it('an unpublished port stops answering from outside, and publishing again restores it', async () => {
    await host.unpublish('seed', ns1, ['8080/tcp']);
    await expect(send(Lab.path(lab.outside), 'tcp', UPLINK.host, 8080, payload(), 1000)).rejects.toThrow();
    await host.publish('seed', ns1, ['8080:80']);
    expect((await send(Lab.path(lab.outside), 'tcp', UPLINK.host, 8080, payload())).server).toBe('ns1');
  });

  it('ruleset() returns the document for the desired state synchronously, with the published port', async () => {
    const doc = host.ruleset();
    expect(doc).toEqual(renderRuleset(await host.state()));
    expect(JSON.stringify(doc)).toContain('[8080,80]');
  });

  it('apply twice leaves the table identical and no drift', async () => {
    await host.apply();
    const first = nftTableData(lab.host);
    await host.apply();
    expect(nftTableData(lab.host)).toEqual(first);
    expect(first[0]).toEqual({ table: { family: 'inet', name: 'nftbridge' } });
    const { drift } = await host.status();
    expect(drift, JSON.stringify(drift)).toEqual([]);
  });

  it('down restores the host namespace exactly (links, addresses, routes, ruleset)', async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    await host.down();
    expect(snapshot(lab.host)).toEqual(before);
    expect((await host.state()).networks).toEqual([]);
  });
});
