/**
 * The long-lived `nft -j -i` leaves the caller's home alone and does not slow down with use: nft -i
 * keeps a libedit history of every line it reads, loads `$HOME/.nft.history` when it starts and
 * writes it back when it ends (src/exec/runner.ts NFT_HOME, src/nft/session.ts RENEW_AFTER).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultRunner, Host, type Runner } from '../../src/index.js';
import { Lab } from '../../src/lab/lab.js';
import { NftSession } from '../../src/nft/session.js';
import { describeKernel } from '../helpers/kernel.js';

const TABLE = JSON.stringify({ nftables: [{ add: { table: { family: 'inet', name: 'sessiontest' } } }] });
const MAP = JSON.stringify({
  nftables: [{ add: { map: { family: 'inet', table: 'sessiontest', name: 'm', type: 'inet_service', map: 'ipv4_addr' } } }],
});
const element = (op: 'add' | 'delete', port: number) =>
  JSON.stringify({
    nftables: [
      { [op]: { element: { family: 'inet', table: 'sessiontest', name: 'm', elem: op === 'add' ? [[port, '10.0.0.2']] : [port] } } },
    ],
  });

/** The runner, counting the nft processes it starts. */
function counting(): { runner: Pick<Runner, 'spawn'>; started: () => number } {
  let n = 0;
  return {
    runner: {
      spawn: (command, argv, options) => {
        if (command === 'nft') n++;
        return defaultRunner.spawn(command, argv, options);
      },
    },
    started: () => n,
  };
}

describeKernel('the nft session', () => {
  let lab: Lab;
  let home: string;
  const savedHome = process.env.HOME;

  beforeAll(async () => {
    lab = await Lab.create();
    home = mkdtempSync(join(tmpdir(), 'nftbridge-home-'));
  });
  afterAll(async () => {
    process.env.HOME = savedHome;
    rmSync(home, { recursive: true, force: true });
    await lab?.destroy();
  });

  it("writes nothing to the caller's $HOME/.nft.history (nft -i writes its whole history there when it ends)", async () => {
    process.env.HOME = home;
    try {
      const host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
      await host.createNetwork({ name: 'h', subnet: '10.61.0.0/24' });
      await host.connect('h', lab.name('c'));
      await host.publish('h', lab.name('c'), ['8080:80']);
      expect((await host.status()).drift).toEqual([]);
      await host.down();
      await host.close();
    } finally {
      process.env.HOME = savedHome;
    }
    // nft writes the history on its way out. Host.close() waits for its sessions to end; a process a
    // session handed over from ends on its own once its stdin closed, so give it a moment too.
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(join(home, '.nft.history'))).toBe(false);
  });

  it('starts a fresh nft after its share of requests, between requests, and every request is answered', async () => {
    const { runner, started } = counting();
    const session = new NftSession(Lab.path(lab.host), runner, 3);
    try {
      await session.run(TABLE);
      await session.run(MAP);
      for (let i = 0; i < 10; i++) await session.run(element(i % 2 === 0 ? 'add' : 'delete', 5000));
      // 12 requests, 3 per process: 4 processes served them, and the next one may be waiting.
      expect(started()).toBeGreaterThanOrEqual(4);
      expect(started()).toBeLessThanOrEqual(5);
      const before = started();
      // Requests sent at once wait for the one in flight: none is cut off by a renewal.
      await Promise.all(Array.from({ length: 9 }, (_, i) => session.run(element('add', 6000 + i))));
      const listing = await session.run(
        JSON.stringify({ nftables: [{ list: { map: { family: 'inet', table: 'sessiontest', name: 'm' } } }] }),
        true,
      );
      const elems = (JSON.parse(listing.join('')) as { nftables: { map?: { elem?: unknown[] } }[] }).nftables.find((o) => o.map)?.map?.elem;
      expect(elems?.length).toBe(9);
      expect(started()).toBeGreaterThan(before);
      expect(session.alive).toBe(true);
    } finally {
      await session.run(JSON.stringify({ nftables: [{ delete: { table: { family: 'inet', name: 'sessiontest' } } }] }));
      await session.close();
    }
  });

  it('renews under a caller that always has a request queued, keeping the order of transactions', async () => {
    const session = new NftSession(Lab.path(lab.host), undefined, 3);
    try {
      await session.run(TABLE);
      await session.run(MAP);
      // Add, delete, add...: a delete run before its add fails, so every request answered means in order.
      let last = session.run(element('add', 7000));
      for (let i = 1; i < 40; i++) {
        const next = session.run(element(i % 2 === 0 ? 'add' : 'delete', 7000));
        await last;
        last = next;
      }
      await last;
      // Never a moment between requests: only the bound at twice the count hands over.
      expect(session.renewals).toBeGreaterThanOrEqual(5);
      const listing = await session.run(
        JSON.stringify({ nftables: [{ list: { map: { family: 'inet', table: 'sessiontest', name: 'm' } } }] }),
        true,
      );
      const elems = (JSON.parse(listing.join('')) as { nftables: { map?: { elem?: unknown[] } }[] }).nftables.find((o) => o.map)?.map?.elem;
      expect(elems ?? []).toEqual([]);
    } finally {
      await session.run(JSON.stringify({ nftables: [{ delete: { table: { family: 'inet', name: 'sessiontest' } } }] }));
      await session.close();
    }
  });
});
