/**
 * Every change of the state is one journal line (#14: a connect on a host of 10,000 ports must not
 * rewrite them all): networks, containers and endpoints as well as ports, replayed by a fresh
 * reader to the same state, undone by the inverse change, and journals of the older, ports-only
 * shape still read as they are.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { inverse } from '../../../src/topology/journal.js';
import { planEndpoint, planNetwork } from '../../../src/topology/plan.js';
import { planPublish } from '../../../src/topology/port-plan.js';
import { emptyState, type State } from '../../../src/topology/state.js';
import { StateStore } from '../../../src/topology/store.js';

let dir: string;
beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'nftbridge-journal-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A state of `n` published ports on one endpoint. */
function large(n: number): State {
  let s = emptyState();
  s.networks.push(planNetwork(s, { name: 'n', subnet: '10.1.0.0/16' }));
  s.containers.push({ name: 'c', netns: '/run/netns/c', created: true });
  s.endpoints.push(planEndpoint(s, 'n', 'c', {}, 'v0'));
  s = {
    ...s,
    ports: planPublish(
      s,
      'n',
      'c',
      Array.from({ length: n }, (_, i) => `${10000 + i}:80`),
    ),
  };
  return s;
}

it('connect, disconnect, network create and rm are one line each; the snapshot is not rewritten', async () => {
  const a = new StateStore(dir, 'host');
  const s0 = large(2000);
  await a.write(s0);
  const snapshot = statSync(a.file);
  // A connect: a container and an endpoint.
  const box = { name: 'd', netns: '/run/netns/d', created: true };
  const ep = planEndpoint(s0, 'n', 'd', {}, 'v1');
  const s1: State = { ...s0, containers: [...s0.containers, box], endpoints: [...s0.endpoints, ep] };
  await a.change(s1, { containers: { add: [box] }, endpoints: { add: [ep] } });
  // A network created, then removed.
  const net = planNetwork(s1, { name: 'm', subnet: '10.2.0.0/24' });
  const s2: State = { ...s1, networks: [...s1.networks, net] };
  await a.change(s2, { networks: { add: [net] } });
  const s3: State = { ...s2, networks: s2.networks.filter((x) => x !== net) };
  await a.change(s3, { networks: { remove: [net] } });
  // A disconnect with a published port.
  const port = planPublish(s3, 'n', 'd', ['9000:80']);
  const s4: State = { ...s3, ports: [...s3.ports, ...port] };
  await a.change(s4, { ports: { add: port } });
  const s5: State = { ...s4, ports: s3.ports, endpoints: s0.endpoints, containers: s0.containers };
  await a.change(s5, { ports: { remove: port }, endpoints: { remove: [ep] }, containers: { remove: [box] } });

  expect(statSync(a.file).mtimeMs).toBe(snapshot.mtimeMs);
  expect(readFileSync(a.journal, 'utf8').trim().split('\n')).toHaveLength(5);
  const fresh = await new StateStore(dir, 'host').read();
  expect(fresh).toEqual({ ...s5, generation: expect.any(String) });
  // The disconnect took back what the connect added: only the first container is left.
  expect(fresh.endpoints.map((e) => e.container)).toEqual(['c']);
  expect(fresh.ports).toHaveLength(2000);
});

it('the inverse change undoes it, in the journal as in memory', async () => {
  const a = new StateStore(dir, 'host');
  const s0 = large(10);
  await a.write(s0);
  const net = planNetwork(s0, { name: 'm', subnet: '10.2.0.0/24' });
  const change = { networks: { add: [net] } };
  await a.change({ ...s0, networks: [...s0.networks, net] }, change);
  await a.change(s0, inverse(change));
  expect(await new StateStore(dir, 'host').read()).toEqual({ ...s0, generation: expect.any(String) });
});

it('a journal written before networks and endpoints were journaled (ports only) reads as it did', async () => {
  const a = new StateStore(dir, 'host');
  const s0 = large(3);
  await a.write(s0);
  const gen = (JSON.parse(readFileSync(a.file, 'utf8')) as { generation: string }).generation;
  const port = planPublish(s0, 'n', 'c', ['7000:80']);
  appendFileSync(a.journal, `${JSON.stringify({ gen, add: port, remove: [] })}\n`);
  const fresh = await new StateStore(dir, 'host').read();
  expect(fresh.ports.map((p) => p.hostPort)).toEqual([10000, 10001, 10002, 7000]);
  expect(fresh.networks).toEqual(s0.networks);
});

it('the first change in an empty state directory writes a snapshot (a journal belongs to one)', async () => {
  const a = new StateStore(dir, 'host');
  const s0 = emptyState();
  await a.read();
  const net = planNetwork(s0, { name: 'n', subnet: '10.1.0.0/24' });
  await a.change({ ...s0, networks: [net] }, { networks: { add: [net] } });
  expect((await new StateStore(dir, 'host').read()).networks).toEqual([net]);
});
