/**
 * The link view (ip/link-view.ts) must say what a fresh dump says, after every kind of change the
 * kernel notifies: links added, renamed, enslaved, released, set down, deleted, moved away;
 * addresses added and removed (v4 and v6); many links at once; and a burst larger than a drain.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { release } from 'node:os';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultRunner } from '../../src/exec/runner.js';
import { Ip } from '../../src/ip/ip.js';
import { LinkNotices } from '../../src/ip/link-events.js';
import type { LinkAddresses } from '../../src/ip/schema.js';
import { Lab } from '../../src/lab/lab.js';
import { describeKernel } from '../helpers/kernel.js';

/**
 * What nftbridge reads of a link, in a form two listings can be compared in. IPv6 link-local
 * addresses are left out: the kernel announces one only once its duplicate address detection is
 * over (a second or so), while a dump lists it at once, as tentative. nftbridge reads none of
 * them; the gateways it adds are added with nodad and announced at once (checked below).
 */
const normal = (links: readonly LinkAddresses[]) =>
  links
    .map((l) => ({
      ...l,
      group: String(l.group ?? 'default'),
      // ip adds M-DOWN to a veth whose peer is down, from the peer's flags; nothing reads it.
      flags: l.flags.filter((f) => f !== 'M-DOWN'),
      addr_info: l.addr_info
        .filter((a) => !(a.family === 'inet6' && a.scope === 'link'))
        .map((a) => `${a.family} ${a.local}/${a.prefixlen} ${a.scope}`)
        .sort(),
    }))
    .sort((a, b) => a.ifindex - b.ifindex);

describeKernel('the link view follows the kernel', () => {
  let lab: Lab;
  let view: Ip;
  let fresh: Ip;
  const ip = (...args: string[]) => execFileSync('ip', ['-n', lab.host, ...args], { encoding: 'utf8' });
  /**
   * The view, after the change, against dumps of a process that never saw the namespace before.
   * The kernel finishes some changes on its own a little later (an IPv6 link-local address after a
   * link comes up), so the view is compared once a dump before it and one after it agree.
   */
  const same = async () => {
    for (let attempt = 0; ; attempt++) {
      const before = normal(await fresh.addresses());
      const seen = await view.addresses();
      const after = normal(await fresh.addresses());
      if (JSON.stringify(before) !== JSON.stringify(after) && attempt < 20) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      expect(normal(seen)).toEqual(after);
      // The indexes kept along with the links (by name, by alias) say what indexes made afresh would.
      const snap = await view.linkSnapshot();
      const aliases = new Map<string, number>();
      for (const l of snap.all) if (l.ifalias !== undefined) aliases.set(l.ifalias, (aliases.get(l.ifalias) ?? 0) + 1);
      expect(new Map(snap.byName)).toEqual(new Map(snap.all.map((l) => [l.ifname, l])));
      expect(new Map(snap.aliases)).toEqual(aliases);
      return seen;
    }
  };

  beforeAll(async () => {
    lab = await Lab.create();
    view = new Ip(defaultRunner, Lab.path(lab.host), true);
    fresh = new Ip(defaultRunner, Lab.path(lab.host), false);
    // The first look dumps, the second starts the notices and dumps; from the third on it follows.
    await view.addresses();
    await view.addresses();
  });
  afterAll(async () => {
    await view?.close();
    await lab?.destroy();
  });

  it('sees links made, enslaved, marked, renamed, set down, and their addresses', async () => {
    ip('link', 'add', 'vb0', 'type', 'bridge');
    ip('link', 'set', 'vb0', 'up');
    ip('addr', 'add', '10.61.0.1/24', 'dev', 'vb0');
    ip('addr', 'add', 'fd61::1/64', 'dev', 'vb0', 'nodad');
    expect((await same()).find((l) => l.ifname === 'vb0')?.addr_info.map((a) => a.local)).toEqual(
      expect.arrayContaining(['10.61.0.1', 'fd61::1']),
    );
    ip('link', 'add', 'va1', 'type', 'veth', 'peer', 'name', 'vp1');
    ip('link', 'set', 'va1', 'master', 'vb0', 'up');
    ip('link', 'set', 'va1', 'alias', 'nftbridge:test with spaces');
    ip('link', 'set', 'vp1', 'group', '1852964865');
    const seen = await same();
    expect(seen.find((l) => l.ifname === 'va1')).toMatchObject({ master: 'vb0', ifalias: 'nftbridge:test with spaces' });
    ip('link', 'set', 'va1', 'nomaster');
    ip('link', 'set', 'vb0', 'down');
    ip('addr', 'del', '10.61.0.1/24', 'dev', 'vb0');
    await same();
    ip('link', 'set', 'vp1', 'name', 'vq1');
    await same();
  });

  it('sees links deleted and moved to another namespace', async () => {
    const other = lab.name('away');
    execFileSync('ip', ['netns', 'add', other]);
    try {
      ip('link', 'set', 'vq1', 'netns', other);
      await same();
      ip('link', 'del', 'vb0');
      expect((await same()).some((l) => l.ifname === 'vb0')).toBe(false);
    } finally {
      execFileSync('ip', ['netns', 'del', other]);
    }
    await same();
  });

  it('follows hundreds of changes between two looks', async () => {
    const lines = Array.from({ length: 200 }, (_, i) => [
      `link add vx${i} type veth peer name vy${i}`,
      `addr add 10.62.${i}.1/32 dev vx${i}`,
      `link set vx${i} up`,
    ]).flat();
    execFileSync('ip', ['-n', lab.host, '-batch', '-'], { input: `${lines.join('\n')}\n` });
    expect((await same()).length).toBeGreaterThan(400);
    execFileSync('ip', ['-n', lab.host, '-batch', '-'], {
      input: `${Array.from({ length: 200 }, (_, i) => `link del vx${i}`).join('\n')}\n`,
    });
    await same();
  });

  it('hands over the notices themselves, and skips a bridge port notice that is not the link leaving', async () => {
    const notices = new LinkNotices(Lab.path(lab.host), defaultRunner);
    try {
      expect(await notices.drain()).toBe('lost');
      ip('link', 'add', 'vn0', 'type', 'bridge');
      ip('link', 'add', 'vn1', 'type', 'veth', 'peer', 'name', 'vn2');
      ip('link', 'set', 'vn1', 'master', 'vn0');
      ip('link', 'set', 'vn1', 'nomaster');
      const got = await notices.drain();
      if (got === undefined || got === 'lost') throw new Error(`no notices: ${String(got)}`);
      expect(got.some((n) => n.type === 'link' && n.name === 'vn0' && n.kind === 'bridge')).toBe(true);
      // The bridge's "port removed" notice (family AF_BRIDGE, type DELLINK) must not read as vn1 gone.
      expect(got.some((n) => n.type === 'link-gone')).toBe(false);
      // Nothing more of links; mount points of other test files' namespaces may come and go.
      const after = await notices.drain();
      if (after === undefined || after === 'lost') throw new Error(`no notices: ${String(after)}`);
      expect(after.filter((n) => n.type !== 'mounts')).toEqual([]);
      ip('link', 'del', 'vn0');
      ip('link', 'del', 'vn1');
    } finally {
      await notices.close();
    }
    await same();
  });

  it.each(['ids', 'mountinfo'] as const)(
    'names the mount points that came or went, and nothing when no mount changed (%s)',
    async (how) => {
      const notices = new LinkNotices(Lab.path(lab.host), defaultRunner, { mounts: how });
      const name = lab.name(`mnt-${how}`);
      // Only this test's mount point: other test files make namespaces in the same mount namespace
      // at the same time, and their mount points are named too.
      const mounts = async () => {
        const got = await notices.drain();
        if (got === undefined || got === 'lost') throw new Error(`no notices: ${String(got)}`);
        return got.flatMap((n) => (n.type === 'mounts' && n.path === Lab.path(name) ? [n.path] : []));
      };
      try {
        expect(await notices.drain()).toBe('lost');
        // listmount(2) came with Linux 6.8; before it, the script reads mountinfo whatever it is asked.
        const [major = 0, minor = 0] = release().split('.').map(Number);
        expect(notices.mountSource).toBe(how === 'ids' && major * 100 + minor >= 608 ? 'ids' : 'lines');
        expect(await mounts()).toEqual([]);
        execFileSync('ip', ['netns', 'add', name]);
        // The script compares the mount table as soon as it changes, and a drain polls again anyway.
        expect(await mounts()).toEqual([Lab.path(name)]);
        expect(await mounts()).toEqual([]);
        execFileSync('ip', ['netns', 'del', name]);
        expect(await mounts()).toEqual([Lab.path(name)]);
      } finally {
        spawnSync('ip', ['netns', 'del', name]);
        await notices.close();
      }
    },
  );
});
