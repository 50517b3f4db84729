/**
 * The host firewall's last look kept for the next process: reused only for the same namespace, at
 * the same ruleset generation and with the same mask; anything else is a new look.
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ruleComment } from '../../../src/hostfw/detect.js';
import { HostFirewall } from '../../../src/hostfw/host-firewall.js';
import { FileScanMemo, type RememberedScan, type ScanMemo } from '../../../src/hostfw/scan-memo.js';
import type { ChainObj, Listing } from '../../../src/nft/schema.js';

const MASK = 0xff000000;

/** A host with a hardened inet filter table whose forward chain holds nftbridge's accept rule. */
function fakeNft(namespace: string | undefined, gen: { now: number }) {
  const calls = { listChains: 0, listChain: 0 };
  const chains: ChainObj[] = [
    { family: 'inet', table: 'filter', name: 'forward', type: 'filter', hook: 'forward', prio: 0, policy: 'drop' },
  ];
  const listing: Listing = {
    nftables: [
      {
        rule: {
          family: 'inet',
          table: 'filter',
          chain: 'forward',
          handle: 7,
          comment: ruleComment(MASK),
          expr: [{ accept: null }],
        },
      },
    ],
  };
  return {
    calls,
    nft: {
      generationsOf: namespace,
      generationNow: async () => gen.now,
      othersUnchangedSince: (since: number, now: number) => since === now,
      listChains: async () => {
        calls.listChains++;
        return chains;
      },
      listChain: async () => {
        calls.listChain++;
        return listing;
      },
      apply: async () => undefined,
    },
  };
}

const memoryMemo = (): ScanMemo & { kept: RememberedScan | undefined } => ({
  kept: undefined,
  load() {
    return this.kept;
  },
  save(scan) {
    this.kept = scan;
  },
});

const options = (mask = MASK) => ({ mode: 'auto' as const, mask, netns: '/run/netns/h', env: {} });
const STATE = { networks: [{ name: 'a', bridge: 'nb-a' }] } as never;

describe('the host firewall look kept for the next process', () => {
  it('is reused by a new process in the same namespace at the same generation, with the same result', async () => {
    const memo = memoryMemo();
    const gen = { now: 41 };
    const first = fakeNft('boot/7', gen);
    expect(await new HostFirewall(first.nft, options(), memo).sync(STATE)).toEqual([]);
    expect(first.calls.listChains).toBe(1);
    expect(memo.kept?.gen).toBe(41);
    const second = fakeNft('boot/7', gen);
    const report = await new HostFirewall(second.nft, options(), memo).observe(STATE);
    expect(second.calls).toEqual({ listChains: 0, listChain: 0 });
    expect(report.blocks).toEqual(['a']);
  });

  it('is not reused after any commit, in another namespace, with another mask, or without a namespace', async () => {
    const memo = memoryMemo();
    const gen = { now: 41 };
    await new HostFirewall(fakeNft('boot/7', gen).nft, options(), memo).sync(STATE);
    const cases = [
      { namespace: 'boot/7', now: 42, mask: MASK },
      { namespace: 'boot/8', now: 41, mask: MASK },
      { namespace: 'other-boot/7', now: 41, mask: MASK },
      { namespace: 'boot/7', now: 41, mask: 0x00ff0000 },
      { namespace: undefined, now: 41, mask: MASK },
    ];
    const kept = memo.kept;
    expect(kept?.namespace).toBe('boot/7');
    for (const c of cases) {
      const fake = fakeNft(c.namespace, { now: c.now });
      await new HostFirewall(fake.nft, options(c.mask), { load: () => kept, save: () => undefined }).observe(STATE);
      expect(fake.calls.listChains, JSON.stringify(c)).toBe(1);
    }
  });

  it('is stamped with the generation of nftbridge own later commits when the Host closes', async () => {
    const memo = memoryMemo();
    const gen = { now: 41 };
    const fake = fakeNft('boot/7', gen);
    const own = new Set([42]);
    const fw = new HostFirewall(
      { ...fake.nft, othersUnchangedSince: (since, now) => [...Array(now - since).keys()].every((i) => own.has(since + i + 1)) },
      options(),
      memo,
    );
    await fw.sync(STATE);
    gen.now = 42;
    await fw.persist();
    expect(memo.kept?.gen).toBe(42);
    // Somebody else's commit after that: the kept look stays at 42, and 43 finds none.
    gen.now = 43;
    await fw.persist();
    expect(memo.kept?.gen).toBe(42);
  });
});

describe('FileScanMemo', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const scan: RememberedScan = { namespace: 'b/1', gen: 3, mask: MASK, firewalldTable: false, viaDbus: false, blocking: [] };

  it('keeps a look in a 0600 file and reads it back', () => {
    dir = mkdtempSync(join(tmpdir(), 'nftbridge-memo-'));
    const memo = new FileScanMemo(join(dir, 'host.hostfw'));
    expect(memo.load()).toBeUndefined();
    memo.save(scan);
    expect(memo.load()).toEqual(scan);
    expect(JSON.parse(readFileSync(join(dir, 'host.hostfw'), 'utf8'))).toEqual(scan);
  });

  it('treats garbage, a wrong shape or a symlink as nothing kept, and a missing directory as nothing to keep', () => {
    dir = mkdtempSync(join(tmpdir(), 'nftbridge-memo-'));
    const path = join(dir, 'host.hostfw');
    writeFileSync(path, '{not json');
    expect(new FileScanMemo(path).load()).toBeUndefined();
    writeFileSync(path, JSON.stringify({ ...scan, gen: 'x' }));
    expect(new FileScanMemo(path).load()).toBeUndefined();
    rmSync(path);
    writeFileSync(join(dir, 'elsewhere'), JSON.stringify(scan));
    symlinkSync(join(dir, 'elsewhere'), path);
    expect(new FileScanMemo(path).load()).toBeUndefined();
    expect(() => new FileScanMemo(join(dir, 'missing', 'host.hostfw')).save(scan)).not.toThrow();
  });
});
