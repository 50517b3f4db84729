import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderRuleset } from '../../../src/firewall/render.js';
import { seedState } from '../../../src/demo/seed.js';

import { planPublish } from '../../../src/topology/port-plan.js';
import { dualStackState } from '../../helpers/states.js';

describe('renderRuleset', () => {
  it('still produces rulesets/seed.json for the seed topology', () => {
    const want = JSON.parse(readFileSync(new URL('../../../rulesets/seed.json', import.meta.url), 'utf8')) as unknown;
    expect(renderRuleset(seedState())).toEqual(want);
  });

  it('is deterministic: the order of networks and ports in the state does not matter', () => {
    const s = dualStackState();
    const shuffled = { ...s, networks: [...s.networks].reverse(), ports: [...s.ports].reverse(), endpoints: [...s.endpoints].reverse() };
    expect(JSON.stringify(renderRuleset(shuffled))).toBe(JSON.stringify(renderRuleset(s)));
  });

  it('rebuilds the one owned table in one transaction, starting with add + flush', () => {
    const doc = renderRuleset(seedState());
    expect(doc.nftables.slice(0, 2)).toEqual([
      { add: { table: { family: 'inet', name: 'nftbridge' } } },
      { flush: { table: { family: 'inet', name: 'nftbridge' } } },
    ]);
    const tables = new Set(
      doc.nftables.map(
        (c) => JSON.stringify(Object.values(Object.values(c)[0] as object)[0]).match(/"table":"(\w+)"|"name":"nftbridge"/)?.[0],
      ),
    );
    expect([...tables].every((t) => t?.includes('nftbridge'))).toBe(true);
  });

  it('renders a kept port again for its endpoint now: a container reconnected with another address', () => {
    const s = dualStackState();
    const port = s.ports[0];
    if (!port) throw new Error('the state has no port');
    const before = JSON.stringify(renderRuleset(s));
    const old = s.endpoints.find((e) => e.network === port.network && e.container === port.container);
    if (!old) throw new Error('no endpoint for the port');
    const moved = old.addresses.map((a) => (a.includes(':') ? a.replace(/:[0-9a-f]+$/, ':fe') : a.replace(/\.\d+$/, '.250')));
    // The same port object, a new endpoint object: a new state as every change makes one.
    const next = { ...s, endpoints: s.endpoints.map((e) => (e === old ? { ...e, addresses: moved } : e)) };
    const after = JSON.stringify(renderRuleset(next));
    for (const a of moved) expect(after).toContain(`"${a}"`);
    for (const a of old.addresses) expect(after).not.toContain(`"${a}"`);
    // And the first state renders as it did.
    expect(JSON.stringify(renderRuleset(s))).toBe(before);
    expect(JSON.stringify(renderRuleset({ ...next }))).toBe(after);
  });

  it('looks published ports up in maps: rule count does not grow with ports', () => {
    const s = seedState();
    const rules = (st: typeof s) => renderRuleset(st).nftables.filter((c) => 'add' in c && 'rule' in c.add).length;
    const before = rules(s);
    const many = {
      ...s,
      ports: [
        ...s.ports,
        ...planPublish(
          s,
          'seed',
          'ns2',
          Array.from({ length: 200 }, (_, i) => `${10000 + i}:80`),
        ),
      ],
    };
    expect(rules(many)).toBe(before);
  });

  it('restricts DNAT to local destinations and masquerades only traffic leaving the bridge', () => {
    const doc = renderRuleset(seedState());
    const rules = doc.nftables.flatMap((c) => ('add' in c && 'rule' in c.add && c.add.rule.family === 'inet' ? [c.add.rule] : []));
    const notLocal = [{ match: { op: '!=', left: { fib: { result: 'type', flags: ['daddr'] } }, right: 'local' } }, { accept: null }];
    for (const hook of ['prerouting', 'output']) expect(rules.find((r) => r.chain === hook)?.expr).toEqual(notLocal);
    // DNAT happens only in the per-family chains, and those are entered only from the two hooks.
    expect(
      rules
        .filter((r) => r.expr.some((st) => 'dnat' in st))
        .map((r) => r.chain)
        .sort(),
    ).toEqual(['dnat4', 'dnat4', 'dnat4', 'dnat4', 'dnat6', 'dnat6', 'dnat6', 'dnat6']);
    const jumps = rules.filter((r) => r.expr.some((st) => 'jump' in st));
    expect(new Set(jumps.map((r) => r.chain))).toEqual(new Set(['prerouting', 'output']));
    const text = JSON.stringify(doc);
    expect(text).toContain('{"match":{"op":"!=","left":{"meta":{"key":"oifname"}},"right":"br0"}},{"masquerade":null}');
  });
});
