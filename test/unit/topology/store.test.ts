/**
 * The state store: snapshot + journal, and that it survives torn writes, garbage and a full disk,
 * stays private to its owner, and costs linear time however many ports come and go.
 */
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NftbridgeError, StateFileError, UnsafeStateDirError } from '../../../src/errors.js';
import { planEndpoint, planNetwork } from '../../../src/topology/plan.js';
import { planPublish, planUnpublish } from '../../../src/topology/port-plan.js';
import { parseUnpublishSpec } from '../../../src/topology/publish-spec.js';
import { emptyState, type State } from '../../../src/topology/state.js';
import { StateStore, withoutPorts } from '../../../src/topology/store.js';

let dir: string;
beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'nftbridge-store-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function base(): State {
  const s = emptyState();
  s.networks.push(planNetwork(s, { name: 'n', subnet: '10.1.0.0/24' }));
  s.endpoints.push(planEndpoint(s, 'n', 'c', {}, 'v'));
  return s;
}
const portsOf = (s: State) => s.ports.map((p) => `${p.hostPort}/${p.protocol}`).sort();

describe('state store: snapshot + journal', () => {
  it('a fresh reader sees the snapshot with every journaled change replayed', async () => {
    const a = new StateStore(dir, 'h');
    const s0 = base();
    await a.write(s0);
    const p1 = planPublish(s0, 'n', 'c', ['8080:80', '53:53/udp']);
    const s1 = { ...s0, ports: [...s0.ports, ...p1] };
    await a.changePorts(s1, { add: p1 });
    const s2 = { ...s1, ports: s1.ports.filter((p) => p.hostPort !== 8080) };
    await a.changePorts(s2, { remove: p1.filter((p) => p.hostPort === 8080) });
    expect(readFileSync(a.journal, 'utf8').trim().split('\n')).toHaveLength(2);
    const fresh = await new StateStore(dir, 'h').read();
    expect(portsOf(fresh)).toEqual(['53/udp']);
    expect(fresh.endpoints).toEqual(s0.endpoints);
  });

  it('ignores a torn last line and journal lines of an older snapshot', async () => {
    const a = new StateStore(dir, 'h');
    const s0 = base();
    await a.write(s0);
    const p1 = planPublish(s0, 'n', 'c', ['8080:80']);
    await a.changePorts({ ...s0, ports: p1 }, { add: p1 });
    appendFileSync(a.journal, '{"gen":"x","add":[{"network":"n"'); // a crash mid-append
    expect(portsOf(await new StateStore(dir, 'h').read())).toEqual(['8080/tcp']);
    const old = readFileSync(a.journal, 'utf8').split('\n')[0] ?? '';
    await a.write(s0); // new generation; the old line, if it came back, must not count
    writeFileSync(a.journal, `${old}\n`);
    expect(portsOf(await new StateStore(dir, 'h').read())).toEqual([]);
  });

  it('folds the journal into a new snapshot when it grows long', async () => {
    const a = new StateStore(dir, 'h');
    let s = base();
    await a.write(s);
    for (let i = 0; i < 300; i++) {
      const p = planPublish(s, 'n', 'c', [`${10000 + i}:80`]);
      s = { ...s, ports: [...s.ports, ...p] };
      await a.changePorts(s, { add: p });
    }
    expect(readFileSync(a.journal, 'utf8').trim().split('\n').length).toBeLessThan(256);
    expect((await new StateStore(dir, 'h').read()).ports).toHaveLength(300);
  });

  it('rejects a journal line of the wrong shape, naming the file', async () => {
    const a = new StateStore(dir, 'h');
    const s0 = base();
    await a.write(s0);
    const gen = (JSON.parse(readFileSync(a.file, 'utf8')) as { generation: string }).generation;
    writeFileSync(a.journal, `${JSON.stringify({ gen, add: [{ hostPort: 'x' }] })}\n`);
    await expect(new StateStore(dir, 'h').read()).rejects.toThrow(StateFileError);
    await expect(new StateStore(dir, 'h').read()).rejects.toThrow(`${a.journal}:1: is not a journal entry`);
  });
});

describe('state store: torn writes and garbage', () => {
  it('a torn last line is cut before the next append, not glued to it', async () => {
    const a = new StateStore(dir, 'h');
    const s0 = base();
    await a.write(s0);
    const p1 = planPublish(s0, 'n', 'c', ['8080:80']);
    const s1 = { ...s0, ports: p1 };
    await a.changePorts(s1, { add: p1 });
    appendFileSync(a.journal, '{"gen":"x","add":[{"netw'); // disk full mid-append
    const b = new StateStore(dir, 'h');
    expect(portsOf(await b.read())).toEqual(['8080/tcp']);
    const p2 = planPublish(s1, 'n', 'c', ['9090:90']);
    await b.changePorts({ ...s1, ports: [...p1, ...p2] }, { add: p2 });
    expect(portsOf(await new StateStore(dir, 'h').read())).toEqual(['8080/tcp', '9090/tcp']);
    expect(
      readFileSync(a.journal, 'utf8')
        .split('\n')
        .filter(Boolean)
        .every((l) => JSON.parse(l) !== undefined),
    ).toBe(true);
  });

  it('a garbage line is a one-line error naming file, line and the command that recovers', async () => {
    const a = new StateStore(dir, 'h');
    const s0 = base();
    await a.write(s0);
    const p1 = planPublish(s0, 'n', 'c', ['8080:80']);
    await a.changePorts({ ...s0, ports: p1 }, { add: p1 });
    appendFileSync(a.journal, 'garbage\n');
    const err = await new StateStore(dir, 'h').read().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateFileError);
    expect((err as Error).message).toBe(
      `${a.journal}:2: is not a journal entry (run "nftbridge recover" to keep what is readable, then "nftbridge apply")`,
    );
    // recover keeps everything before the bad line.
    const r = await new StateStore(dir, 'h').recover();
    expect(r.dropped).toEqual([`${a.journal} from line 2 on`]);
    expect(portsOf(await new StateStore(dir, 'h').read())).toEqual(['8080/tcp']);
  });

  it('an unreadable snapshot is moved aside by recover, and the state starts empty', async () => {
    writeFileSync(join(dir, 'h.json'), '{"version": 1, "networks": [', { mode: 0o600 });
    await expect(new StateStore(dir, 'h').read()).rejects.toThrow(/h\.json: is not valid JSON \(run "nftbridge recover"/);
    const r = await new StateStore(dir, 'h').recover();
    expect(r.dropped[0]).toMatch(/moved to .*h\.json\.broken-\d+/);
    expect((await new StateStore(dir, 'h').read()).networks).toEqual([]);
  });

  it('state files are 0600, and the journal is bounded by bytes as well as lines', async () => {
    const a = new StateStore(dir, 'h');
    let s = base();
    await a.write(s);
    // Few lines, each large: the journal is folded into the snapshot before it passes 1 MiB.
    for (let i = 0; i < 12; i++) {
      const p = planPublish(
        s,
        'n',
        'c',
        Array.from({ length: 400 }, (_, k) => `${1000 + i * 400 + k}:80`),
      );
      s = { ...s, ports: [...s.ports, ...p] };
      await a.changePorts(s, { add: p });
    }
    expect(statSync(a.journal, { throwIfNoEntry: false })?.size ?? 0).toBeLessThanOrEqual(1 << 20);
    expect((await new StateStore(dir, 'h').read()).ports).toHaveLength(4800);
    for (const f of [a.file, a.journal]) if (statSync(f, { throwIfNoEntry: false })) expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o077).toBe(0);
  });

  it('a state directory others can write is refused', async () => {
    chmodSync(dir, 0o775);
    await expect(new StateStore(dir, 'h').read()).rejects.toThrow(UnsafeStateDirError);
    await expect(new StateStore(dir, 'h').acquire()).rejects.toThrow(/writable by group or others/);
  });

  it('unpublishing N ports costs about what publishing them did (linear, not N x removals)', async () => {
    const a = new StateStore(dir, 'h');
    const s0 = base();
    await a.write(s0);
    const specs = Array.from({ length: 20_000 }, (_, i) => `${10_000 + i}:80`);
    const t0 = performance.now();
    const added = planPublish(s0, 'n', 'c', specs);
    const s1 = { ...s0, ports: added };
    await a.changePorts(s1, { add: added });
    await new StateStore(dir, 'h').read();
    const publishMs = performance.now() - t0;
    const t1 = performance.now();
    const removed = planUnpublish(
      s1,
      'n',
      'c',
      specs.map((x) => parseUnpublishSpec(x.split(':')[0] ?? '', 'spec')),
    );
    const s2 = { ...s1, ports: withoutPorts(s1.ports, removed) };
    await a.changePorts(s2, { remove: removed });
    expect((await new StateStore(dir, 'h').read()).ports).toEqual([]);
    const unpublishMs = performance.now() - t1;
    // Quadratic work here is 400 million comparisons: seconds, not the tens of milliseconds of publishing.
    expect(unpublishMs).toBeLessThan(publishMs * 4 + 200);
  });
});

describe('state store: any content gives a state or a one-line StateFileError', () => {
  const valid = () => {
    const s = base();
    s.ports.push(...planPublish(s, 'n', 'c', ['8080:80', '53:53/udp']));
    return JSON.stringify({ ...s, generation: 'g1' });
  };

  it('for arbitrary bytes, arbitrary JSON and damaged valid states, in snapshot and journal', async () => {
    const text = fc.oneof(
      fc.string(),
      fc.json(),
      fc
        .constantFrom(valid())
        .chain((v) => fc.tuple(fc.nat(v.length), fc.nat(v.length)).map(([i, j]) => v.slice(0, Math.min(i, j)) + v.slice(Math.max(i, j)))),
    );
    const journal = fc
      .array(fc.oneof(fc.string(), fc.json(), fc.constant('{"gen":"g1","add":[],"remove":[]}')), { maxLength: 4 })
      .map((ls) => ls.join('\n'));
    await fc.assert(
      fc.asyncProperty(text, journal, fc.boolean(), async (snapshot, lines, torn) => {
        const d = mkdtempSync(join(tmpdir(), 'nftbridge-prop-'));
        try {
          writeFileSync(join(d, 'h.json'), snapshot, { mode: 0o600 });
          writeFileSync(join(d, 'h.journal'), torn ? lines : `${lines}\n`, { mode: 0o600 });
          const store = new StateStore(d, 'h');
          const result = await store.read().then(
            (s) => s,
            (e: unknown) => e,
          );
          if (result instanceof Error) {
            expect(result).toBeInstanceOf(StateFileError);
            expect(result.message.split('\n')).toHaveLength(1);
            // and recover always gets to a readable state
            await store.recover();
            await expect(new StateStore(d, 'h').read()).resolves.toHaveProperty('version', 1);
          } else expect((result as State).version).toBe(1);
        } finally {
          rmSync(d, { recursive: true, force: true });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('every error is an NftbridgeError (the CLI prints one line for those, never a stack)', () => {
    expect(new StateFileError('f', 1, 'x')).toBeInstanceOf(NftbridgeError);
    expect(new UnsafeStateDirError('d', 'x')).toBeInstanceOf(NftbridgeError);
  });
});
