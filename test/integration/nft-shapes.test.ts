import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultRunner, Firewall, NftClient, NftError, renderRuleset, type NftDocument, type Runner } from '../../src/index.js';
import { seedState } from '../../src/demo/seed.js';
import { Lab } from '../../src/lab/lab.js';
import { observeDrift } from '../../src/reconcile/observe.js';
import { Ip } from '../../src/ip/ip.js';

import { planPublish } from '../../src/topology/port-plan.js';
import { describeKernel } from '../helpers/kernel.js';
import { dualStackState } from '../helpers/states.js';

describeKernel('every JSON shape nftbridge emits is accepted by the real nft', () => {
  let lab: Lab;
  let nft: NftClient;
  let fw: Firewall;
  const ctx = () => ({ firewall: fw, ip: new Ip(defaultRunner, Lab.path(lab.host)) });

  beforeAll(async () => {
    lab = await Lab.create();
    nft = new NftClient(defaultRunner, 'inet', 'nftbridge', Lab.path(lab.host));
    fw = new Firewall(nft);
  });
  afterAll(async () => lab?.destroy());

  it('rulesets/seed.json passes nft -c and applies', async () => {
    const doc = JSON.parse(readFileSync(new URL('../../rulesets/seed.json', import.meta.url), 'utf8')) as NftDocument;
    await nft.check(doc);
    await nft.apply(doc);
    expect(await nft.list()).not.toBeNull();
  });

  it('a full rebuild replaces everything, set elements included (no leftovers from the seed)', async () => {
    const s = dualStackState();
    await fw.rebuild(s);
    const drift = (await observeDrift(ctx(), s)).filter((d) => d.kind === 'table' || d.kind === 'chain' || d.kind === 'set');
    expect(drift).toEqual([]);
  });

  it('element-only changes for publish and unpublish apply and leave no drift', async () => {
    const s = dualStackState();
    const more = planPublish(s, 'a', 'c1', ['7000:70/udp', '[fd00::1]:7001:71', '7100-7102:7200-7202']);
    const next = { ...s, ports: [...s.ports, ...more] };
    await fw.addPorts(next, more);
    expect((await observeDrift(ctx(), next)).filter((d) => d.kind === 'set')).toEqual([]);
    await fw.removePorts(next, more, s);
    expect((await observeDrift(ctx(), s)).filter((d) => d.kind === 'set')).toEqual([]);
  });

  it('nft errors become NftError with nft’s own message', async () => {
    const bad = { nftables: [{ add: { rule: { family: 'inet' as const, table: 'nftbridge', chain: 'nope', expr: [{ accept: null }] } } }] };
    const err = await nft.apply(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NftError);
    expect((err as NftError).nftMessage).toMatch(/No such file or directory|does not exist/);
  });

  it('a table reshaped by someone else is rebuilt in one transaction anyway', async () => {
    const s = seedState();
    await nft.deleteTable();
    // Someone creates our table with a set of another type under one of our names.
    await defaultRunner.run(
      'nft',
      ['add table inet nftbridge; add set inet nftbridge bridges { type ipv4_addr; }'].flatMap((x) => x.split(' ')),
      { netns: Lab.path(lab.host) },
    );
    await fw.rebuild(s);
    expect((await observeDrift(ctx(), s)).filter((d) => d.kind === 'set' || d.kind === 'chain' || d.kind === 'table')).toEqual([]);
    expect(renderRuleset(s).nftables.length).toBeGreaterThan(10);
  });

  it('a bridge-family table reshaped by someone else is rebuilt too', async () => {
    const s = seedState();
    await fw.rebuild(s);
    await defaultRunner.run('nft', ['delete', 'table', 'bridge', 'nftbridge'], { netns: Lab.path(lab.host) });
    await defaultRunner.run(
      'nft',
      ['add table bridge nftbridge; add set bridge nftbridge spoof_ports { type ipv4_addr; }'].flatMap((x) => x.split(' ')),
      { netns: Lab.path(lab.host) },
    );
    await fw.rebuild(s);
    expect((await observeDrift(ctx(), s)).filter((d) => d.kind === 'set' || d.kind === 'chain' || d.kind === 'table')).toEqual([]);
  });

  it('through a long-lived nft session: errors are NftErrors, and the session goes on working', async () => {
    const session = new NftClient(defaultRunner, 'inet', 'nftbridge', Lab.path(lab.host), true);
    try {
      const bad = {
        nftables: [{ add: { rule: { family: 'inet' as const, table: 'nftbridge', chain: 'nope', expr: [{ accept: null }] } } }],
      };
      const err = await session.apply(bad).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NftError);
      expect((err as NftError).nftMessage).toMatch(/No such file or directory|does not exist/);
      await session.apply(renderRuleset(seedState()));
      const listing = await session.list();
      expect(listing?.nftables.some((o) => 'table' in o)).toBe(true);
      await session.deleteTable();
      expect(await session.list()).toBeNull();
    } finally {
      await session.close();
    }
  });

  it('an nft without its interactive mode: the client gives the session up for the one-shot path', async () => {
    // A runner whose `nft -j -i` ends at once, as an nft built without its CLI does.
    const broken: Runner = {
      run: (c, a, o) => defaultRunner.run(c, a, o),
      spawn: (c, a, o) => (c === 'nft' && a.includes('-i') ? defaultRunner.spawn('false', [], o) : defaultRunner.spawn(c, a, o)),
    };
    const client = new NftClient(broken, 'inet', 'nftbridge', Lab.path(lab.host), true);
    try {
      await client.apply(renderRuleset(seedState()));
      expect(await client.list()).not.toBeNull();
    } finally {
      await client.close();
    }
  });

  it('list returns null once the table is gone', async () => {
    await nft.deleteTable();
    expect(await nft.list()).toBeNull();
    await nft.deleteTable(); // already gone: not an error
  });
});
