import { describe, expect, it } from 'vitest';
import { acceptRuleExpr, candidateChains, classifyChain, firewallKind, ruleComment } from '../../../src/hostfw/detect.js';
import type { ChainObj, RuleObj } from '../../../src/nft/schema.js';

const chain = (
  family: ChainObj['family'],
  table: string,
  name: string,
  hook?: string,
  policy?: 'accept' | 'drop',
  type: ChainObj['type'] = 'filter',
): ChainObj => ({
  family,
  table,
  name,
  ...(hook ? { hook, type, prio: 0 } : {}),
  ...(policy ? { policy } : {}),
});
const rule = (c: ChainObj, expr: RuleObj['expr'], extra: Partial<RuleObj> = {}): RuleObj => ({
  family: c.family,
  table: c.table,
  chain: c.name,
  expr,
  ...extra,
});
const OWN = new Set(['inet nftbridge', 'bridge nftbridge']);

describe('host firewall detection', () => {
  it('looks at filter base chains on forward and input of other ip/ip6/inet tables only', () => {
    const chains = [
      chain('inet', 'filter', 'forward', 'forward', 'drop'),
      chain('inet', 'filter', 'output', 'output', 'drop'),
      chain('inet', 'filter', 'helper'),
      chain('inet', 'nftbridge', 'forward', 'forward', 'accept'),
      chain('bridge', 'nftbridge', 'spoof_prerouting', 'prerouting'),
      chain('ip', 'nat', 'PREROUTING', 'prerouting', 'accept', 'nat'),
      chain('ip6', 'filter', 'INPUT', 'input', 'drop'),
      chain('arp', 'filter', 'INPUT', 'input', 'drop'),
    ];
    expect(candidateChains(chains, OWN).map((c) => `${c.family} ${c.table} ${c.chain}`)).toEqual([
      'inet filter forward',
      'ip6 filter INPUT',
    ]);
  });

  it('finds a drop policy, or a last rule that drops or rejects unconditionally', () => {
    const c = { family: 'inet' as const, table: 't', chain: 'forward', hook: 'forward' as const, prio: 10 };
    const fwd = chain('inet', 't', 'forward', 'forward', 'accept');
    expect(classifyChain({ ...c, policy: 'drop' }, [], 'nftables', 0xff000000)?.why).toBe('policy drop');
    expect(
      classifyChain(
        { ...c, policy: 'accept' },
        [rule(fwd, [{ counter: null }, { reject: { type: 'icmpx', expr: 'admin-prohibited' } }])],
        'firewalld',
        1,
      )?.why,
    ).toBe('ends in reject');
    expect(classifyChain({ ...c, policy: 'accept' }, [rule(fwd, [{ drop: null }])], 'nftables', 1)?.why).toBe('ends in drop');
    // A conditional drop at the end, or a chain that accepts: nothing to do.
    expect(
      classifyChain(
        { ...c, policy: 'accept' },
        [rule(fwd, [{ match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'eth9' } }, { drop: null }])],
        'nftables',
        1,
      ),
    ).toBeUndefined();
    expect(classifyChain({ ...c, policy: 'accept' }, [], 'nftables', 1)).toBeUndefined();
    // iptables-nft's REJECT target and an xt match before a drop.
    expect(
      classifyChain(
        { ...c, policy: 'accept' },
        [rule(fwd, [{ counter: null }, { xt: { type: 'target', name: 'REJECT' } }])],
        'iptables-nft',
        1,
      )?.why,
    ).toBe('ends in reject');
    expect(
      classifyChain(
        { ...c, policy: 'accept' },
        [rule(fwd, [{ xt: { type: 'match', name: 'conntrack' } }, { drop: null }])],
        'iptables-nft',
        1,
      ),
    ).toBeUndefined();
  });

  it("finds nftbridge's own rules by their comment, current or of another mask", () => {
    const c = { family: 'ip' as const, table: 'filter', chain: 'FORWARD', hook: 'forward' as const, prio: 0, policy: 'drop' };
    const fwd = chain('ip', 'filter', 'FORWARD', 'forward', 'drop');
    const found = classifyChain(
      c,
      [
        rule(fwd, acceptRuleExpr(0xff000000), { handle: 7, comment: ruleComment(0xff000000) }),
        rule(fwd, acceptRuleExpr(0xff00), { handle: 9, comment: ruleComment(0xff00) }),
      ],
      'ufw',
      0xff000000,
    );
    expect(found?.ours).toEqual([
      { handle: 7, current: true },
      { handle: 9, current: false },
    ]);
    // A chain that no longer blocks is still listed while it holds a rule of ours, so `down` finds it.
    expect(
      classifyChain({ ...c, policy: 'accept' }, [rule(fwd, [{ accept: null }], { handle: 3, comment: ruleComment(1) })], 'ufw', 1)?.why,
    ).toBe('no longer blocks');
  });

  it('tells firewalld, ufw, other iptables-nft tables and plain nftables apart', () => {
    expect(firewallKind({ family: 'inet', name: 'firewalld' }, [], [])).toBe('firewalld');
    expect(
      firewallKind({ family: 'ip', name: 'filter' }, [chain('ip', 'filter', 'INPUT'), chain('ip', 'filter', 'ufw-before-input')], []),
    ).toBe('ufw');
    expect(firewallKind({ family: 'ip', name: 'filter' }, [chain('ip', 'filter', 'FORWARD')], [])).toBe('iptables-nft');
    expect(firewallKind({ family: 'inet', name: 'filter' }, [chain('inet', 'filter', 'forward')], [])).toBe('nftables');
  });
});
