/**
 * The host firewall integration: detects what would drop nftbridge's traffic (firewalld, ufw and
 * other iptables-nft tables, any other table's forward/input chain with a drop policy), and makes
 * it let through exactly what nftbridge's own policy accepted. firewalld gets a zone and a policy
 * over D-Bus; every other blocking chain gets one rule at its top accepting nftbridge's marks.
 */
import type { NftClient } from '../nft/client.js';
import type { ChainObj, NftCommand, NftDocument, RuleObj } from '../nft/schema.js';
import type { State } from '../topology/state.js';
import {
  acceptRuleExpr,
  type BlockingChain,
  candidateChains,
  classifyChain,
  firewallKind,
  ruleComment,
  type FirewallKind,
} from './detect.js';
import { Firewalld, type FirewalldState, systemBusAddress } from './firewalld.js';
import { hex } from './marks.js';

export type HostFirewallMode = 'auto' | 'off';

export interface HostFirewallOptions {
  mode: HostFirewallMode;
  /** The mask of nftbridge's per-network marks. */
  mask: number;
  /** Path of the host namespace; undefined for the current one. */
  netns: string | undefined;
  /** Environment to read DBUS_SYSTEM_BUS_ADDRESS from. */
  env?: NodeJS.ProcessEnv;
}

/** What `status` reports about host firewalls. */
export interface HostFirewallReport {
  mode: HostFirewallMode;
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

interface Scan {
  blocking: BlockingChain[];
  firewalld: Firewalld | undefined;
  firewalldState: FirewalldState | undefined;
}

/** A firewalld found absent is looked for again after this long (it may start later). */
const ABSENT_RECHECK_MS = 2000;

const OWN_TABLES = new Set(['inet nftbridge', 'bridge nftbridge']);

export class HostFirewall {
  /** The firewalld connection, kept for the Host's life; null while found absent (looked at again after a while). */
  private firewalld: Firewalld | null | undefined;
  private absentSince = 0;

  constructor(
    private readonly nft: Pick<NftClient, 'listChains' | 'listChain' | 'apply'>,
    readonly options: HostFirewallOptions,
  ) {}

  get enabled(): boolean {
    return this.options.mode !== 'off';
  }

  /**
   * firewalld on the system bus, if it is this namespace's firewall: the bus was named explicitly
   * (DBUS_SYSTEM_BUS_ADDRESS), or the host is the current namespace, or firewalld's table is in it.
   * The machine's firewalld never manages a namespace nftbridge was pointed at otherwise.
   */
  private async connectFirewalld(chains: readonly ChainObj[]): Promise<Firewalld | undefined> {
    if (this.firewalld) return this.firewalld;
    if (this.firewalld === null && performance.now() - this.absentSince < ABSENT_RECHECK_MS) return undefined;
    const env = this.options.env ?? process.env;
    const explicit = Boolean(env.DBUS_SYSTEM_BUS_ADDRESS);
    const hasTable = chains.some((c) => c.family === 'inet' && c.table === 'firewalld');
    if (!explicit && this.options.netns !== undefined && !hasTable) return undefined;
    const fw = await Firewalld.connect(systemBusAddress(env));
    this.firewalld = fw ?? null;
    if (!fw) this.absentSince = performance.now();
    return fw;
  }

  /** Forgets a firewalld connection (after firewalld restarted, say); the next look reconnects. */
  resetFirewalld(): void {
    if (this.firewalld) this.firewalld.close();
    this.firewalld = undefined;
  }

  /** firewalld's signals, once connected (watch subscribes to them). */
  async firewalldClient(): Promise<Firewalld | undefined> {
    if (!this.enabled) return undefined;
    return this.connectFirewalld(await this.nft.listChains());
  }

  private async scan(): Promise<Scan> {
    const chains = await this.nft.listChains();
    const firewalld = await this.connectFirewalld(chains);
    const [blocking, firewalldState] = await Promise.all([this.blockingChains(chains, firewalld !== undefined), firewalld?.read()]);
    return { blocking, firewalld, firewalldState };
  }

  /**
   * Lists only the candidate chains (rules included), not whole tables: firewalld's table has some
   * 150 chains, ufw's two dozen. firewalld's own chains are not even listed when it answers on
   * D-Bus: its zone and policy are looked at there instead.
   */
  private async blockingChains(chains: readonly ChainObj[], viaDbus: boolean): Promise<BlockingChain[]> {
    const candidates = candidateChains(chains, OWN_TABLES);
    const listed = await Promise.all(
      candidates.map(async (c) => {
        const info = chains.find((x) => x.family === c.family && x.table === c.table && x.name === c.chain);
        const tableChains = chains.filter((x) => x.family === c.family && x.table === c.table);
        if (viaDbus && c.family === 'inet' && c.table === 'firewalld')
          return { ...c, kind: 'firewalld' as const, why: 'firewalld zones (managed over D-Bus)', ours: [] };
        const listing = await this.nft.listChain(c.family, c.table, c.chain);
        const rules: RuleObj[] = [];
        for (const item of listing?.nftables ?? [])
          if ('rule' in item && item.rule && typeof item.rule === 'object') rules.push(item.rule as RuleObj);
        const kind = firewallKind({ family: c.family, name: c.table }, tableChains, rules);
        return classifyChain({ ...c, policy: info?.policy }, rules, kind, this.options.mask);
      }),
    );
    return listed.filter((b): b is BlockingChain => b !== undefined);
  }

  /** The chains that get nftbridge's accept rule: all blocking ones but firewalld's own when it answers on D-Bus. */
  private ruleTargets(scan: Scan): BlockingChain[] {
    return scan.blocking.filter((b) => !(b.kind === 'firewalld' && scan.firewalld));
  }

  async observe(state: State): Promise<HostFirewallReport> {
    const base: HostFirewallReport = {
      mode: this.options.mode,
      markMask: hex(this.options.mask),
      firewalls: [],
      blocks: [],
      integration: [],
      missing: [],
    };
    if (!this.enabled) return base;
    const scan = await this.scan();
    return this.report(state, scan, base);
  }

  private report(state: State, scan: Scan, base: HostFirewallReport): HostFirewallReport {
    const wanted = state.networks.length > 0;
    const targets = new Set(this.ruleTargets(scan));
    const byTable = new Map<string, HostFirewallReport['firewalls'][number]>();
    for (const b of scan.blocking) {
      const key = `${b.family} ${b.table}`;
      const entry = byTable.get(key) ?? { kind: b.kind, table: key, chains: [] };
      byTable.set(key, entry);
      const viaDbus = !targets.has(b);
      const integrated = viaDbus ? this.firewalldComplete(state, scan.firewalldState) : b.ours.some((o) => o.current);
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
      const integrated = this.firewalldComplete(state, fw);
      base.firewalld = { ...fw, integrated };
      if (fw.runtime.zone) base.integration.push(`firewalld zone nftbridge: ${fw.runtime.interfaces.join(' ') || '(no bridges)'}`);
      if (fw.runtime.policy) base.integration.push('firewalld policy nftbridge-forward');
      if (wanted && !integrated) base.missing.push(...firewalldMissing(state, fw));
      if (!wanted && (fw.permanent.zone || fw.permanent.policy || fw.runtime.zone))
        base.missing.push('firewalld zone or policy left behind');
      if (!byTable.has('inet firewalld')) base.firewalls.push({ kind: 'firewalld', table: 'inet firewalld', chains: [] });
    }
    const blocking = scan.blocking.some((b) => b.why !== 'no longer blocks') || scan.firewalldState !== undefined;
    base.blocks = blocking ? state.networks.map((n) => n.name) : [];
    return base;
  }

  private firewalldComplete(state: State, fw: FirewalldState | undefined): boolean {
    return fw !== undefined && firewalldMissing(state, fw).length === 0;
  }

  /**
   * Makes the integration match `state`: accept rules in every blocking chain and nftbridge's
   * bridges in its firewalld zone while it has networks; nothing of it once it has none.
   * Returns what changed (empty when nothing had to).
   */
  async sync(state: State): Promise<string[]> {
    if (!this.enabled) return [];
    const scan = await this.scan();
    if (state.networks.length === 0) return this.removeWith(scan);
    const commands: NftCommand[] = [];
    const changes: string[] = [];
    for (const b of this.ruleTargets(scan)) {
      for (const o of b.ours) if (!o.current) commands.push(deleteRule(b, o.handle));
      if (b.why !== 'no longer blocks' && !b.ours.some((o) => o.current)) {
        commands.push(insertRule(b, this.options.mask));
        changes.push(`accept rule in ${b.family} ${b.table} ${b.chain}`);
      }
    }
    if (commands.length > 0) await this.nft.apply({ nftables: commands } as NftDocument);
    if (scan.firewalld && scan.firewalldState)
      changes.push(
        ...(await scan.firewalld.ensure(
          state.networks.map((n) => n.bridge),
          scan.firewalldState,
        )),
      );
    return changes;
  }

  /** Removes every rule of nftbridge's from other tables, and its firewalld zone and policy. */
  async remove(): Promise<string[]> {
    if (!this.enabled) return [];
    return this.removeWith(await this.scan());
  }

  private async removeWith(scan: Scan): Promise<string[]> {
    const commands: NftCommand[] = [];
    const changes: string[] = [];
    for (const b of scan.blocking)
      for (const o of b.ours) {
        commands.push(deleteRule(b, o.handle));
        changes.push(`removed rule from ${b.family} ${b.table} ${b.chain}`);
      }
    if (commands.length > 0) await this.nft.apply({ nftables: commands } as NftDocument);
    if (scan.firewalld && scan.firewalldState) {
      const fw = scan.firewalldState;
      if (fw.permanent.zone || fw.permanent.policy || fw.runtime.zone || fw.runtime.policy)
        changes.push(...(await scan.firewalld.remove()));
    }
    return changes;
  }

  close(): void {
    if (this.firewalld) this.firewalld.close();
    this.firewalld = undefined;
  }
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

const insertRule = (b: BlockingChain, mask: number): NftCommand => ({
  insert: { rule: { family: b.family, table: b.table, chain: b.chain, comment: ruleComment(mask), expr: acceptRuleExpr(mask) } },
});
const deleteRule = (b: BlockingChain, handle: number): NftCommand => ({
  delete: { rule: { family: b.family, table: b.table, chain: b.chain, handle } },
});
