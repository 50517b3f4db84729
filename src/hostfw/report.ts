/** What `status` says about host firewalls: the firewalls found, what they would block, what is in place, what is missing. */
import type { State } from '../topology/state.js';
import type { BlockingChain } from './detect.js';
import type { FirewalldState } from './firewalld.js';
import type { FirewallKind } from './detect.js';
import type { Firewalld } from './firewalld.js';

/** What `status` reports about host firewalls. */
export interface HostFirewallReport {
  mode: 'auto' | 'off';
  /** The mark mask, as 0x…. */
  markMask: string;
  /** Each firewall found and the chains of it that would drop nftbridge's traffic. */
  firewalls: {
    kind: FirewallKind;
    table: string;
    chains: { chain: string; hook: string; prio: number; why: string; integrated: boolean }[];
  }[];
  /** firewalld, when it answers on the system bus: nftbridge's zone and policy in it. */
  firewalld?: FirewalldState & { integrated: boolean };
  /** Networks whose traffic a firewall found would drop if nftbridge did nothing. */
  blocks: string[];
  /** What nftbridge has in place, for people: "rule in ip filter FORWARD", "firewalld zone nftbridge". */
  integration: string[];
  /** What is missing or stale; empty when the integration is complete. */
  missing: string[];
}

export interface Scan {
  blocking: BlockingChain[];
  firewalld: Firewalld | undefined;
  firewalldState: FirewalldState | undefined;
  /** The ruleset generation the tables were looked at in, when it is known. */
  gen?: number | undefined;
}

export function buildReport(state: State, scan: Scan, base: HostFirewallReport, targets: readonly BlockingChain[]): HostFirewallReport {
  const wanted = state.networks.length > 0;
  const ruleTargets = new Set(targets);
  const byTable = new Map<string, HostFirewallReport['firewalls'][number]>();
  for (const b of scan.blocking) {
    const key = `${b.family} ${b.table}`;
    const entry = byTable.get(key) ?? { kind: b.kind, table: key, chains: [] };
    byTable.set(key, entry);
    const viaDbus = !ruleTargets.has(b);
    const integrated = viaDbus ? firewalldComplete(state, scan.firewalldState) : b.ours.some((o) => o.current);
    entry.chains.push({ chain: b.chain, hook: b.hook, prio: b.prio, why: b.why, integrated });
    if (!viaDbus && b.ours.some((o) => o.current)) base.integration.push(`rule in ${key} ${b.chain}`);
    if (wanted && !viaDbus && b.why !== 'no longer blocks' && !b.ours.some((o) => o.current))
      base.missing.push(`no accept rule in ${key} ${b.chain} (${b.why})`);
    if (b.ours.some((o) => !o.current)) base.missing.push(`stale rule in ${key} ${b.chain} (another mark mask)`);
    if (!wanted && b.ours.length > 0) base.missing.push(`leftover rule in ${key} ${b.chain}`);
  }
  base.firewalls = [...byTable.values()];
  if (scan.firewalldState) {
    const fw = scan.firewalldState;
    const integrated = firewalldComplete(state, fw);
    base.firewalld = { ...fw, integrated };
    if (fw.runtime.zone) base.integration.push(`firewalld zone nftbridge: ${fw.runtime.interfaces.join(' ') || '(no bridges)'}`);
    if (fw.runtime.policy) base.integration.push('firewalld policy nftbridge-forward');
    if (wanted && !integrated) base.missing.push(...firewalldMissing(state, fw));
    if (!wanted && (fw.permanent.zone || fw.permanent.policy || fw.runtime.zone)) base.missing.push('firewalld zone or policy left behind');
    if (!byTable.has('inet firewalld')) base.firewalls.push({ kind: 'firewalld', table: 'inet firewalld', chains: [] });
  }
  const blocking = scan.blocking.some((b) => b.why !== 'no longer blocks') || scan.firewalldState !== undefined;
  base.blocks = blocking ? state.networks.map((n) => n.name) : [];
  return base;
}

function firewalldComplete(state: State, fw: FirewalldState | undefined): boolean {
  return fw !== undefined && firewalldMissing(state, fw).length === 0;
}

function firewalldMissing(state: State, fw: FirewalldState): string[] {
  const out: string[] = [];
  if (!fw.permanent.zone) out.push('firewalld: no permanent zone nftbridge');
  if (!fw.permanent.policy) out.push('firewalld: no permanent policy nftbridge-forward');
  if (!fw.runtime.zone) out.push('firewalld: zone nftbridge not loaded');
  if (!fw.runtime.policy) out.push('firewalld: policy nftbridge-forward not loaded');
  for (const n of state.networks) {
    if (!fw.runtime.interfaces.includes(n.bridge)) out.push(`firewalld: ${n.bridge} not in zone nftbridge (runtime)`);
    if (fw.permanent.zone && !fw.permanent.interfaces.includes(n.bridge))
      out.push(`firewalld: ${n.bridge} not in zone nftbridge (permanent)`);
  }
  const bridges = new Set(state.networks.map((n) => n.bridge));
  for (const b of fw.runtime.interfaces) if (!bridges.has(b)) out.push(`firewalld: ${b} in zone nftbridge but not nftbridge's`);
  return out;
}
