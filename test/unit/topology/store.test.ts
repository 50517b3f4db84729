import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateFileError } from '../../../src/errors.js';
import { planEndpoint, planNetwork, planPublish } from '../../../src/topology/plan.js';
import { emptyState, type State } from '../../../src/topology/state.js';
import { StateStore } from '../../../src/topology/store.js';

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
