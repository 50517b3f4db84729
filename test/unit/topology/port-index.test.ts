import { describe, expect, it } from 'vitest';
import { seedState } from '../../../src/demo/seed.js';
import { newPortIndex, type PortIndex, portIndex, portsWith, portsWithoutSame } from '../../../src/topology/port-index.js';
import { planPublish, planUnpublish } from '../../../src/topology/port-plan.js';
import type { PublishedPort, State } from '../../../src/topology/state.js';

/** An index as comparable data: ports by start (in list order) and the ranges. */
const shape = (i: PortIndex) => ({
  size: i.size,
  byStart: [...i.byStart].map(([n, ps]) => [n, [...ps]] as const).sort(([a], [b]) => a - b),
  ranges: [...i.ranges],
});
const fresh = (ports: readonly PublishedPort[]) => shape(newPortIndex(ports));

describe('the port index kept with a port list', () => {
  const base = (): State => {
    const s = seedState();
    return { ...s, ports: [...s.ports, ...planPublish(s, 'seed', 'ns1', ['7000-7009:80-89', '127.0.0.1:7100:80/udp'])] };
  };

  it('moves along publish and unpublish, and stays what a fresh one would be', () => {
    let s = base();
    portIndex(s.ports);
    const lists: PublishedPort[][] = [];
    for (let k = 0; k < 30; k++) {
      const added = planPublish(s, 'seed', 'ns2', [`${8000 + k}:80`, `${9000 + 10 * k}-${9000 + 10 * k + 4}:90-94`]);
      s = { ...s, ports: portsWith(s.ports, added) };
      lists.push(s.ports);
      if (k % 3 === 2) {
        const gone = planUnpublish(s, 'seed', 'ns2', [
          { protocol: 'tcp', hostPort: 8000 + k - 1 },
          { protocol: 'tcp', hostPort: 9000 + 10 * k },
        ]);
        const next = portsWithoutSame(s.ports, gone);
        expect(next).toBeDefined();
        s = { ...s, ports: next ?? [] };
      }
    }
    expect(shape(portIndex(s.ports))).toEqual(fresh(s.ports));
    // A list the index moved away from (an operation that failed after planning) gets a new one.
    const old = lists[5] ?? [];
    expect(shape(portIndex(old))).toEqual(fresh(old));
  });

  it('finds a clash with a range that starts below the port, and with this call’s own specs', () => {
    const s = base();
    expect(() => planPublish(s, 'seed', 'ns2', ['7005:80'])).toThrow(/already published/);
    expect(() => planPublish(s, 'seed', 'ns2', ['6990-7000:80-90'])).toThrow(/already published/);
    expect(() => planPublish(s, 'seed', 'ns2', ['7100:80/udp'])).toThrow(/already published/);
    expect(planPublish(s, 'seed', 'ns2', ['7100:80'])).toHaveLength(1);
    expect(() => planPublish(s, 'seed', 'ns2', ['7200-7210:80-90', '7205:80'])).toThrow(/already published/);
  });

  it('a list pushed to in place is indexed again', () => {
    const s = base();
    portIndex(s.ports);
    s.ports.push(...planPublish(s, 'seed', 'ns2', ['7300:80']));
    expect(() => planPublish(s, 'seed', 'ns2', ['7300:81'])).toThrow(/already published/);
  });

  it('removing ports that are not the list’s own objects is left to the keyed pass', () => {
    const s = base();
    const copy = s.ports.map((p) => ({ ...p }));
    expect(portsWithoutSame(s.ports, [copy[0] as PublishedPort])).toBeUndefined();
  });
});
