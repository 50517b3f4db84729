/**
 * The link view's bookkeeping, without a kernel: the notices' lines, how they change a listing,
 * when the view gives up and dumps, and that a one-shot never starts the notices' process.
 * test/integration/link-view.test.ts compares it with real dumps.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChangeLog } from '../../../src/ip/change-log.js';
import { parseNotice, type LinkNotice } from '../../../src/ip/link-events.js';
import { applyNotices, flagNames, LinkTable, LinkView } from '../../../src/ip/link-view.js';
import type { LinkAddresses } from '../../../src/ip/schema.js';

const hex = (s: string) => Buffer.from(s).toString('hex');
const link = (ifindex: number, ifname: string, extra: Partial<LinkAddresses> = {}): LinkAddresses => ({
  ifindex,
  ifname,
  flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
  group: 'default',
  addr_info: [],
  ...extra,
});

describe('link notices', () => {
  it('parses what the script prints, strings in hex', () => {
    expect(parseNotice(`L+ 7 69699 3 0 ${hex('veth')} ${hex('ve-1')} ${hex('nftbridge:ab cd')}`)).toEqual({
      type: 'link',
      index: 7,
      flags: 69699,
      master: 3,
      group: 0,
      kind: 'veth',
      name: 've-1',
      alias: 'nftbridge:ab cd',
    });
    expect(parseNotice(`L+ 1 8 0 0 - ${hex('lo')} -`)).toEqual({ type: 'link', index: 1, flags: 8, master: 0, group: 0, name: 'lo' });
    expect(parseNotice('L- 7')).toEqual({ type: 'link-gone', index: 7 });
    expect(parseNotice('A+ 3 10 64 0 fd00::1')).toMatchObject({ type: 'address', family: 6, prefixlen: 64, local: 'fd00::1' });
    expect(parseNotice('A- 3 2 24 0 10.0.0.1')).toMatchObject({ type: 'address-gone', family: 4, local: '10.0.0.1' });
    expect(parseNotice('O')).toBe('overflow');
    expect(parseNotice('something new')).toBeUndefined();
  });

  it('names flags as ip does, NO-CARRIER for a link up without carrier', () => {
    expect(flagNames(0x1 | 0x2 | 0x1000 | 0x10000 | 0x40)).toEqual(['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP']);
    expect(flagNames(0x1 | 0x2 | 0x1000)).toEqual(['NO-CARRIER', 'BROADCAST', 'MULTICAST', 'UP']);
    expect(flagNames(0x8)).toEqual(['LOOPBACK']);
  });
});

describe('applying notices', () => {
  it('adds, changes and removes links and addresses; a link keeps its addresses across its own notices', () => {
    const links = new Map([[3, link(3, 'br-a')]]);
    const notices: LinkNotice[] = [
      { type: 'address', index: 3, family: 4, prefixlen: 24, scope: 0, local: '10.1.0.1' },
      { type: 'link', index: 9, flags: 0x1043, master: 3, group: 1852964865, kind: 'veth', name: 've-1', alias: 'nftbridge:x' },
      { type: 'link', index: 3, flags: 0x1002, master: 0, group: 0, kind: 'bridge', name: 'br-a' },
      { type: 'address', index: 77, family: 4, prefixlen: 24, scope: 0, local: '10.9.0.1' },
    ];
    expect(applyNotices(links, notices)).toBe(true);
    expect(links.get(3)).toMatchObject({ flags: ['BROADCAST', 'MULTICAST'], addr_info: [{ local: '10.1.0.1', scope: 'global' }] });
    expect(links.get(9)).toMatchObject({ master: 'br-a', ifalias: 'nftbridge:x', group: '1852964865', linkinfo: { info_kind: 'veth' } });
    expect(links.has(77)).toBe(false);
    applyNotices(links, [
      { type: 'address-gone', index: 3, family: 4, prefixlen: 24, scope: 0, local: '10.1.0.1' },
      { type: 'link-gone', index: 9 },
    ]);
    expect(links.get(3)?.addr_info).toEqual([]);
    expect(links.has(9)).toBe(false);
  });

  it('gives up on a renamed link or a master it cannot name (a dump follows)', () => {
    const links = new Map([[3, link(3, 'br-a')]]);
    expect(applyNotices(links, [{ type: 'link', index: 3, flags: 1, master: 0, group: 0, name: 'br-b' }])).toBe(false);
    expect(applyNotices(new Map(), [{ type: 'link', index: 4, flags: 1, master: 99, group: 0, name: 've' }])).toBe(false);
  });
});

describe('the view', () => {
  const setup = (drained: (LinkNotice[] | 'lost' | undefined)[]) => {
    const calls = { dumps: 0, drains: 0, ones: [] as string[] };
    let listing = [link(1, 'lo', { flags: ['LOOPBACK', 'UP', 'LOWER_UP'] }), link(3, 'br-a')];
    const view = new LinkView(
      async () => {
        calls.dumps++;
        return listing;
      },
      {
        drain: async () => {
          calls.drains++;
          return drained.shift();
        },
      },
      async (name) => {
        calls.ones.push(name);
        return listing.find((l) => l.ifname === name);
      },
    );
    return { view, calls, set: (l: LinkAddresses[]) => void (listing = l) };
  };

  it('a one-shot dumps once and never drains; then notices replace dumps', async () => {
    const { view, calls } = setup(['lost', [], [{ type: 'link-gone', index: 3 }]]);
    await view.snapshot();
    expect(calls).toMatchObject({ dumps: 1, drains: 0 });
    await view.snapshot(); // the notices start: lost, so a dump
    expect(calls).toMatchObject({ dumps: 2, drains: 1 });
    expect((await view.snapshot()).all.map((l) => l.ifname)).toEqual(['lo', 'br-a']);
    expect((await view.snapshot()).all.map((l) => l.ifname)).toEqual(['lo']);
    expect(calls).toMatchObject({ dumps: 2, drains: 3 });
  });

  it('reads links that are down afresh (the kernel does not announce their alias or group)', async () => {
    const { view, calls, set } = setup(['lost', []]);
    set([link(3, 'br-a', { flags: ['BROADCAST'] })]);
    await view.snapshot();
    await view.snapshot();
    set([link(3, 'br-a', { flags: ['BROADCAST'], ifalias: 'nftbridge:x' })]);
    expect((await view.snapshot()).all[0]?.ifalias).toBe('nftbridge:x');
    expect(calls.ones).toEqual(['br-a']);
  });

  it('dumps when notices cannot be had, or many links are down', async () => {
    const { view, calls, set } = setup(['lost', undefined, 'lost', []]);
    await view.snapshot();
    await view.snapshot();
    await view.snapshot();
    expect(calls.dumps).toBe(3);
    set(Array.from({ length: 9 }, (_, i) => link(10 + i, `d${i}`, { flags: [] })));
    await view.snapshot();
    expect(calls.dumps).toBe(4);
    // Nothing announced, but nine links are down: too many to read one by one.
    await view.snapshot();
    expect(calls.dumps).toBe(5);
    expect(calls.ones).toEqual([]);
  });
});

describe('the kept table', () => {
  it('keeps its indexes by name, alias and down as a table made afresh from its links would', () => {
    const op = fc.record({
      index: fc.integer({ min: 1, max: 6 }),
      name: fc.constantFrom('a', 'b', 'c', 'd'),
      alias: fc.option(fc.constantFrom('m', 'n')),
      up: fc.boolean(),
      gone: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const t = new LinkTable([]);
        for (const o of ops) {
          // Names stay unique, as the kernel keeps them: a link of another index under the name goes first.
          const other = t.byName.get(o.name);
          if (other && other.ifindex !== o.index) t.delete(other.ifindex);
          if (o.gone) t.delete(o.index);
          else t.set(o.index, link(o.index, o.name, { flags: o.up ? ['UP'] : [], ...(o.alias ? { ifalias: o.alias } : {}) }));
        }
        const fresh = new LinkTable(t.all);
        expect(new Map(t.byName)).toEqual(new Map(fresh.byName));
        expect(new Map(t.aliases)).toEqual(new Map(fresh.aliases));
        expect(new Set(t.down)).toEqual(new Set(fresh.down));
        expect(fresh.touched.size).toBe(0);
      }),
    );
  });

  it("names what each look changed, and 'all' after a dump", async () => {
    const drained: (LinkNotice[] | 'lost')[] = ['lost', [{ type: 'link-gone', index: 3 }], [], 'lost'];
    const view = new LinkView(
      async () => [link(1, 'lo', { flags: ['LOOPBACK', 'UP'] }), link(3, 'br-a')],
      { drain: async () => drained.shift() },
      async () => undefined,
    );
    await view.snapshot(); // a one-shot's dump: nothing to follow
    const changes = (await view.snapshot()).changes; // lost: a dump, kept from now on
    expect(changes).toBeDefined();
    const at = changes?.version ?? -1;
    await view.snapshot(); // br-a is gone
    expect(changes?.since(at)).toEqual(new Set(['br-a']));
    const now = changes?.version ?? -1;
    await view.snapshot(); // nothing
    expect(changes?.since(now)).toEqual(new Set());
    await view.snapshot(); // lost: a dump
    expect(changes?.since(now)).toBe('all');
  });

  it('tells a reader too far behind that everything changed', () => {
    const log = new ChangeLog();
    for (let i = 0; i < 100; i++) log.record(new Set([`l${i}`]));
    expect(log.since(99)).toEqual(new Set(['l99']));
    expect(log.since(1)).toBe('all');
    expect(log.since(100)).toEqual(new Set());
    log.record(new Set());
    expect(log.version).toBe(100);
  });
});
