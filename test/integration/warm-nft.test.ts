import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultRunner, NftClient, NftError, renderRuleset } from '../../src/index.js';
import { Lab } from '../../src/lab/lab.js';
import { planPublish } from '../../src/topology/port-plan.js';
import { describeKernel } from '../helpers/kernel.js';
import { dualStackState } from '../helpers/states.js';

describeKernel('documents too big for the nft session go to a spare nft started ahead', () => {
  let lab: Lab;
  let nft: NftClient;
  const state = dualStackState();
  // Some hundred ports: well past the session's 16 KB.
  const big = {
    ...state,
    ports: [
      ...state.ports,
      ...planPublish(
        state,
        'a',
        'c1',
        Array.from({ length: 300 }, (_, i) => `${20000 + i}:80`),
      ),
    ],
  };

  beforeAll(async () => {
    lab = await Lab.create();
    nft = new NftClient(defaultRunner, 'inet', 'nftbridge', Lab.path(lab.host), true);
  });
  afterAll(async () => {
    await nft?.close();
    await lab?.destroy();
  });

  it('applies one big document after another, each in full', async () => {
    const doc = renderRuleset(big);
    expect(JSON.stringify(doc).length).toBeGreaterThan(16 * 1024);
    for (let i = 0; i < 3; i++) {
      await nft.apply(doc);
      const listing = await nft.list();
      const elems = listing?.nftables.flatMap((o) =>
        'map' in o && (o.map as { name?: string }).name === 'pub4_tcp_port' ? ((o.map as { elem?: unknown[] }).elem ?? []) : [],
      );
      // Every single port on every address: 8080 and the 300 above.
      expect(elems?.length).toBe(301);
    }
  });

  it("reports nft's own message for a bad document, and the next one still applies", async () => {
    const doc = renderRuleset(big);
    const bad = {
      nftables: [
        ...doc.nftables,
        { add: { rule: { family: 'inet' as const, table: 'nftbridge', chain: 'nosuch', expr: [{ accept: null }] } } },
      ],
    };
    const err = await nft.apply(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NftError);
    expect((err as NftError).nftMessage).toMatch(/No such file or directory/);
    await nft.apply(doc);
    expect(await nft.list()).not.toBeNull();
  });

  it('a FIFO removed behind its back (a cleaned /tmp) is made again', async () => {
    await nft.apply(renderRuleset(big));
    await new Promise((r) => setTimeout(r, 200));
    const fifo = (nft as unknown as { warm: { fifo: string } }).warm.fifo;
    rmSync(fifo);
    await nft.apply(renderRuleset(state));
    expect(existsSync(fifo)).toBe(true);
    expect(await nft.list()).not.toBeNull();
  });

  it('after its namespace is deleted, neither the session nor the spare applies anything', async () => {
    const name = lab.name('ghost');
    execFileSync('ip', ['netns', 'add', name]);
    const ghost = new NftClient(defaultRunner, 'inet', 'nftbridge', Lab.path(name), true);
    try {
      await ghost.apply(renderRuleset(big));
      await ghost.apply({ nftables: [{ add: { table: { family: 'inet', name: 'nftbridge' } } }] });
      await new Promise((r) => setTimeout(r, 200)); // a spare waits in the namespace
      execFileSync('ip', ['netns', 'del', name]);
      await expect(ghost.apply({ nftables: [{ add: { table: { family: 'inet', name: 'nftbridge' } } }] })).rejects.toThrow(
        /namespace|No such file/,
      );
      await expect(ghost.apply(renderRuleset(big))).rejects.toThrow(/namespace|No such file/);
    } finally {
      await ghost.close();
    }
  });

  it('close ends the spare and removes its FIFO', async () => {
    await nft.apply(renderRuleset(big));
    await new Promise((r) => setTimeout(r, 200)); // the next spare has started
    const fifo = (nft as unknown as { warm: { fifo: string } }).warm.fifo;
    expect(existsSync(fifo)).toBe(true);
    await nft.close();
    expect(existsSync(fifo)).toBe(false);
  });
});
