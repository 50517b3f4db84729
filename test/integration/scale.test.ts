/**
 * What keeps a large host as cheap as a small one (#14) must not make it less checked: network
 * create and rm rewrite the rules and leave the port maps alone, yet the tables end as a full
 * build would make them; status trusts the tables only while nothing was committed since it
 * checked them (the ruleset generation), so a foreign change is still seen; `down` deletes many
 * links as one group, and only its own.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Host, planPublish } from '../../src/index.js';
import { Lab } from '../../src/lab/lab.js';
import { describeKernel } from '../helpers/kernel.js';

const PORTS = 300;
const nft = (netns: string, ...args: string[]) =>
  execFileSync('nsenter', [`--net=${Lab.path(netns)}`, 'nft', ...args], { encoding: 'utf8' });
/** Elements in the port maps (pub4_*, pub6_*) of the owned table, as the kernel has them. */
function portElements(netns: string): number {
  const listing = JSON.parse(nft(netns, '-j', 'list', 'table', 'inet', 'nftbridge')) as {
    nftables: { map?: { name: string; elem?: unknown[] } }[];
  };
  return listing.nftables.reduce((n, o) => n + (o.map?.name.startsWith('pub') ? (o.map.elem?.length ?? 0) : 0), 0);
}

describeKernel('a large host costs what a small one does, and is still checked', () => {
  let lab: Lab;
  let host: Host;
  let box: string;
  /** A Host that knows nothing about the tables yet: its status lists and compares them whole. */
  const freshDrift = async () => {
    const other = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
    try {
      return (await other.status()).drift;
    } finally {
      await other.close();
    }
  };

  beforeAll(async () => {
    lab = await Lab.create();
    host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
    await host.createNetwork({ name: 'a', subnet: '10.71.0.0/24' });
    box = lab.name('c');
    await host.connect('a', box);
    await host.publish(
      'a',
      box,
      Array.from({ length: PORTS }, (_, i) => `${20000 + i}:80`),
    );
  });
  afterAll(async () => {
    await host?.down().catch(() => undefined);
    await host?.close();
    await lab?.destroy();
  });

  it('port maps exist under the names this test counts', () => {
    expect(portElements(lab.host)).toBeGreaterThanOrEqual(PORTS);
  });

  it('network create and rm rewrite the rules only; the tables end as a full build makes them', async () => {
    const before = portElements(lab.host);
    await host.createNetwork({ name: 'b', subnet: '10.72.0.0/24' });
    expect(portElements(lab.host)).toBe(before);
    expect(nft(lab.host, 'list', 'set', 'inet', 'nftbridge', 'bridges')).toMatch(/elements = \{[^}]*\}/);
    expect(await freshDrift()).toEqual([]);
    await host.removeNetwork('b');
    expect(portElements(lab.host)).toBe(before);
    expect(await freshDrift()).toEqual([]);
  });

  it('a network created on a table somebody deleted rebuilds the table whole', async () => {
    nft(lab.host, 'delete', 'table', 'inet', 'nftbridge');
    await host.createNetwork({ name: 'd', subnet: '10.73.0.0/24' });
    expect(await freshDrift()).toEqual([]);
    expect(portElements(lab.host)).toBeGreaterThanOrEqual(PORTS);
    await host.removeNetwork('d');
  });

  it('status trusts the tables only until somebody commits: a deleted element is seen, then repaired', async () => {
    expect((await host.status()).drift).toEqual([]);
    expect((await host.status()).drift).toEqual([]);
    // A commit to another table moves the generation: the next status looks again, and is clean.
    nft(lab.host, 'add', 'table', 'inet', 'somebody');
    expect((await host.status()).drift).toEqual([]);
    nft(lab.host, 'delete', 'table', 'inet', 'somebody');
    const map = (
      JSON.parse(nft(lab.host, '-j', 'list', 'table', 'inet', 'nftbridge')) as { nftables: { map?: { name: string; elem?: unknown[] } }[] }
    ).nftables
      .map((o) => o.map)
      .find((m) => m?.name.startsWith('pub') && (m.elem?.length ?? 0) > 0);
    expect(map).toBeDefined();
    const text = nft(lab.host, 'list', 'map', 'inet', 'nftbridge', map?.name ?? '');
    const first = /elements = \{\s*([^:,]+?)\s*:/.exec(text)?.[1];
    expect(first).toBeDefined();
    nft(lab.host, 'delete', 'element', 'inet', 'nftbridge', map?.name ?? '', `{ ${first} }`);
    const drift = (await host.status()).drift;
    expect(drift.map((d) => d.kind)).toContain('set');
    await host.apply();
    expect((await host.status()).drift).toEqual([]);
    expect(await freshDrift()).toEqual([]);
  });

  it('a rebuild leaves nothing somebody added, and is known to match without a listing', async () => {
    nft(lab.host, 'add', 'chain', 'bridge', 'nftbridge', 'somebodys');
    nft(lab.host, 'add', 'chain', 'inet', 'nftbridge', 'somebodys');
    expect((await host.status()).drift.map((d) => d.subject)).toContain('somebodys');
    await host.apply(); // structural drift: a rebuild, which deletes and remakes both tables
    const state = await host.state();
    // Claimed from the commit alone: nothing else was committed since.
    expect(await host.firewall.unchangedSince(state)).toBe(true);
    expect(nft(lab.host, 'list', 'table', 'bridge', 'nftbridge')).not.toContain('somebodys');
    expect(nft(lab.host, 'list', 'table', 'inet', 'nftbridge')).not.toContain('somebodys');
    expect((await host.status()).drift).toEqual([]);
    expect(await freshDrift()).toEqual([]);
    // Any other commit ends the claim.
    nft(lab.host, 'add', 'chain', 'bridge', 'nftbridge', 'somebodys');
    expect(await host.firewall.unchangedSince(state)).toBe(false);
    expect((await host.status()).drift.map((d) => d.subject)).toContain('somebodys');
    await host.apply();
    expect((await host.status()).drift).toEqual([]);
  });

  it('an apply that changes only elements is known to match after it: the next status lists nothing', async () => {
    // As a runtime that writes the state itself, then applies: only port elements differ.
    const state = await host.state();
    const added = planPublish(state, 'a', box, ['30000:80', '30001:80']);
    await host.store.write({ ...state, ports: [...state.ports, ...added] });
    const before = portElements(lab.host);
    await host.apply();
    expect(portElements(lab.host)).toBe(before + 4); // an address and a port element each
    // Claimed from the repair's own commit, made right after the listing it was computed from.
    expect(await host.firewall.unchangedSince(await host.state())).toBe(true);
    expect((await host.status()).drift).toEqual([]);
    expect(await freshDrift()).toEqual([]);
    await host.unpublish('a', box, ['30000', '30001']);
    expect(portElements(lab.host)).toBe(before);
  });

  it('apply with nothing to do applies nothing', async () => {
    expect((await host.apply()).nftables).toEqual([]);
  });

  it('an early host-firewall look is used only while nobody else committed: a rule removed after it is put back', async () => {
    // A hand-written forward drop policy: the host firewall step puts nftbridge's accept rule in it.
    nft(lab.host, 'add', 'table', 'inet', 'hostfw');
    nft(lab.host, 'add', 'chain', 'inet', 'hostfw', 'forward', '{ type filter hook forward priority 0; policy drop; }');
    const ours = () =>
      (
        JSON.parse(nft(lab.host, '-j', 'list', 'chain', 'inet', 'hostfw', 'forward')) as {
          nftables: { rule?: { handle: number; comment?: string } }[];
        }
      ).nftables
        .map((o) => o.rule)
        .filter((r) => r?.comment?.startsWith('nftbridge'));
    try {
      await host.apply();
      expect(ours()).toHaveLength(1);
      const state = await host.state();
      // Taken while the rule is there; then somebody deletes it before the step runs.
      const early = host.hostFirewall.lookEarly();
      await early;
      nft(lab.host, 'delete', 'rule', 'inet', 'hostfw', 'forward', 'handle', String(ours()[0]?.handle));
      expect(await host.hostFirewall.sync(state, early)).toEqual(['accept rule in inet hostfw forward']);
      expect(ours()).toHaveLength(1);
      // Nothing committed since this look: it is used as it is, and nothing is to do.
      expect(await host.hostFirewall.sync(state, host.hostFirewall.lookEarly())).toEqual([]);
    } finally {
      nft(lab.host, 'delete', 'table', 'inet', 'hostfw');
    }
  });

  it('down of many containers deletes their links as one group, and leaves a foreign link alone', async () => {
    for (let i = 0; i < 8; i++) await host.connect('a', lab.name(`g${i}`));
    execFileSync('ip', ['-n', lab.host, 'link', 'add', 'foreign0', 'type', 'veth', 'peer', 'name', 'foreign1']);
    await host.down();
    const left = JSON.parse(execFileSync('ip', ['-n', lab.host, '-j', 'link', 'show'], { encoding: 'utf8' })) as {
      ifname: string;
      ifalias?: string;
    }[];
    expect(left.filter((l) => l.ifalias?.startsWith('nftbridge:'))).toEqual([]);
    expect(left.map((l) => l.ifname)).toEqual(expect.arrayContaining(['foreign0', 'foreign1']));
    const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    expect(namespaces).not.toContain(lab.name('g'));
    expect(namespaces).not.toContain(box);
  });
});
