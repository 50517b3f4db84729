/**
 * Group commit of concurrent connects (ops/connect-group.ts), without a kernel: calls made together
 * share one firewall transaction and one journal line; a call that cannot be planned fails alone;
 * a group that fails midway is rolled back and each call runs again on its own.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../src/errors.js';
import { FakeRunner } from '../../src/exec/fake-runner.js';
import { Host } from '../../src/host.js';

let dir: string;
let hostNs: string;
let runner: FakeRunner;
let host: Host;

const applied = () => runner.nft(hostNs).applied.length;
const journalLines = () => {
  try {
    return readFileSync(host.store.journal, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
};
const hostLinks = () => (JSON.parse(runner.ip.run(hostNs, ['-j', 'addr', 'show'])) as { ifname: string }[]).map((l) => l.ifname);

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nftbridge-group-'));
  hostNs = join(dir, 'hostns');
  writeFileSync(hostNs, '');
  runner = new FakeRunner();
  host = await Host.open({ netns: hostNs, stateDir: join(dir, 'state'), runner, namespaces: runner.namespaces });
  await host.createNetwork({ name: 'web', subnet: '172.18.0.0/24' });
});
afterEach(async () => {
  await host.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('connects made together commit together', () => {
  it('six at once: one firewall transaction, one journal line, six endpoints with distinct addresses, no drift', async () => {
    const [nft0, journal0, calls0] = [applied(), journalLines(), runner.calls.length];
    const eps = await Promise.all(['c1', 'c2', 'c3', 'c4', 'c5', 'c6'].map((c) => host.connect('web', c)));
    expect(applied() - nft0).toBe(1);
    expect(journalLines() - journal0).toBe(1);
    // One look at the bridge's segment for the group (its own addresses are in the state it plans on).
    const neighbourReads = runner.calls
      .slice(calls0)
      .filter((c) => c.command === 'ip' && c.argv.includes('neigh') && c.argv.includes('show'));
    expect(neighbourReads).toHaveLength(1);
    expect(new Set(eps.map((e) => e.addresses[0])).size).toBe(6);
    expect(eps.map((e) => e.container)).toEqual(['c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
    const state = await host.state();
    expect(state.endpoints.map((e) => e.container).sort()).toEqual(['c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
    for (const ep of eps) expect(hostLinks()).toContain(ep.hostIfname);
    expect((await host.status()).drift).toEqual([]);
  });

  it('one after another: each its own transaction, as before', async () => {
    const nft0 = applied();
    await host.connect('web', 'c1');
    await host.connect('web', 'c2');
    expect(applied() - nft0).toBe(2);
  });

  it('a call that cannot be planned gets its own error; the others connect', async () => {
    const calls = [host.connect('web', 'c1'), host.connect('nope', 'c2'), host.connect('web', 'c3')];
    const [a, b, c] = await Promise.allSettled(calls);
    expect(a?.status).toBe('fulfilled');
    expect(b?.status === 'rejected' && b.reason instanceof NotFoundError).toBe(true);
    expect(c?.status).toBe('fulfilled');
    expect((await host.state()).endpoints.map((e) => e.container).sort()).toEqual(['c1', 'c3']);
  });

  it('a group that fails midway is rolled back whole; each call runs again alone and only the failing one fails', async () => {
    // The inside of c2 fails once (in the group), and once more when c2 runs alone.
    runner.failWhen((c) => c.command === 'ip' && c.netns === '/run/netns/c2', 'RTNETLINK answers: Operation not permitted', 2);
    const [a, b, c] = await Promise.allSettled(['c1', 'c2', 'c3'].map((x) => host.connect('web', x)));
    expect(a?.status).toBe('fulfilled');
    expect(b?.status === 'rejected' && /Operation not permitted/.test(String(b.reason))).toBe(true);
    expect(c?.status).toBe('fulfilled');
    expect(runner.ip.hasNamespace('/run/netns/c2')).toBe(false);
    const state = await host.state();
    expect(state.endpoints.map((e) => e.container).sort()).toEqual(['c1', 'c3']);
    // Only the two endpoints' veths: the group's were all removed in its rollback.
    expect(
      hostLinks()
        .filter((l) => l.startsWith('veth'))
        .sort(),
    ).toEqual(state.endpoints.map((e) => e.hostIfname).sort());
    expect((await host.status()).drift).toEqual([]);
  });

  it('a call does not overtake an operation started before it: no group across it', async () => {
    await host.connect('web', 'old');
    const nft0 = applied();
    const first = host.connect('web', 'c1');
    // Started between the two connects: the second must come after it, so it cannot join the first.
    const between = lastValueFrom(host.disconnect$('web', 'old'));
    const second = host.connect('web', 'c2');
    await Promise.all([first, between, second]);
    // c1, the disconnect, c2: three transactions, none shared.
    expect(applied() - nft0).toBe(3);
    expect((await host.state()).endpoints.map((e) => e.container).sort()).toEqual(['c1', 'c2']);
  });

  it('one container on two networks at once: the second call waits for the next group', async () => {
    await host.createNetwork({ name: 'db', subnet: '172.19.0.0/24' });
    const [a, b] = await Promise.all([host.connect('web', 'c1'), host.connect('db', 'c1')]);
    expect(a.container).toBe('c1');
    expect(b.container).toBe('c1');
    const state = await host.state();
    expect(state.containers.filter((c) => c.name === 'c1')).toHaveLength(1);
    expect(state.endpoints).toHaveLength(2);
    expect((await host.status()).drift).toEqual([]);
  });
});
