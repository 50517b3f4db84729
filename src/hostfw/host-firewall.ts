/**
 * The host firewall integration: detects what would drop nftbridge's traffic (firewalld, ufw and
 * other iptables-nft tables, any other table's forward/input chain with a drop policy), and makes
 * it let through exactly what nftbridge's own policy accepted. firewalld gets a zone and a policy
 * over D-Bus; every other blocking chain gets one rule at its top accepting nftbridge's marks.
 */
import type { NftClient } from '../nft/client.js';
import type { ChainObj, NftCommand, NftDocument, RuleObj } from '../nft/schema.js';
import type { State } from '../topology/state.js';
import { acceptRuleExpr, type BlockingChain, candidateChains, classifyChain, firewallKind, ruleComment } from './detect.js';
import { Firewalld, type FirewalldState, systemBusAddress } from './firewalld.js';
import { hex } from './marks.js';
import { buildReport, type HostFirewallReport, type Scan } from './report.js';
import type { RememberedScan, ScanMemo } from './scan-memo.js';

export type { HostFirewallReport };

export type HostFirewallMode = 'auto' | 'off';

/** A look at the host firewall started ahead of the step that acts on it (HostFirewall.lookEarly). */
export type EarlyLook = Promise<Scan | undefined>;

export interface HostFirewallOptions {
  mode: HostFirewallMode;
  /** The mask of nftbridge's per-network marks. */
  mask: number;
  /** Path of the host namespace; undefined for the current one. */
  netns: string | undefined;
  /** Environment to read DBUS_SYSTEM_BUS_ADDRESS from. */
  env?: NodeJS.ProcessEnv;
}

/** A firewalld found absent is looked for again after this long (it may start later). */
const ABSENT_RECHECK_MS = 2000;

const FIREWALLD_WHY = 'firewalld zones (managed over D-Bus)';

const OWN_TABLES = new Set(['inet nftbridge', 'bridge nftbridge']);

/** The tables' part of a look, at the ruleset generation it was taken at. */
type LastScan = Omit<RememberedScan, 'namespace' | 'mask'>;

export class HostFirewall {
  /** The firewalld connection, kept for the Host's life; null while found absent (looked at again after a while). */
  private firewalld: Firewalld | null | undefined;
  private absentSince = 0;

  constructor(
    private readonly nft: Pick<
      NftClient,
      'listChains' | 'listChain' | 'apply' | 'generationNow' | 'othersUnchangedSince' | 'generationsOf'
    >,
    readonly options: HostFirewallOptions,
    /** Where the last look is kept for the next process (see scan-memo.ts). */
    private readonly memo?: ScanMemo,
  ) {}

  get enabled(): boolean {
    return this.options.mode !== 'off';
  }

  /**
   * firewalld on the system bus, if it is this namespace's firewall: the bus was named explicitly
   * (DBUS_SYSTEM_BUS_ADDRESS), or the host is the current namespace, or firewalld's table is in it.
   * The machine's firewalld never manages a namespace nftbridge was pointed at otherwise.
   */
  private async connectFirewalld(hasTable: boolean): Promise<Firewalld | undefined> {
    if (this.firewalld) return this.firewalld;
    if (this.firewalld === null && performance.now() - this.absentSince < ABSENT_RECHECK_MS) return undefined;
    const env = this.options.env ?? process.env;
    const explicit = Boolean(env.DBUS_SYSTEM_BUS_ADDRESS);
    if (!explicit && this.options.netns !== undefined && !hasTable) return undefined;
    const found = await Firewalld.connect(systemBusAddress(env));
    this.firewalld = found?.client ?? null;
    this.firstRead = found?.first;
    if (!found) this.absentSince = performance.now();
    return found?.client;
  }
  /** The read that connecting made, used once by the look that connected. */
  private firstRead: FirewalldState | undefined;

  /** Forgets a firewalld connection (after firewalld restarted, say); the next look reconnects. */
  resetFirewalld(): void {
    if (this.firewalld) this.firewalld.close();
    this.firewalld = undefined;
  }

  /** firewalld's signals, once connected (watch subscribes to them). */
  async firewalldClient(): Promise<Firewalld | undefined> {
    if (!this.enabled) return undefined;
    const chains = await this.nft.listChains();
    const fw = await this.connectFirewalld(chains.some((c) => c.family === 'inet' && c.table === 'firewalld'));
    this.firstRead = undefined;
    return fw;
  }

  /**
   * One look at the host: every chain (no rules), while firewalld is asked over D-Bus when that
   * needs no look at the tables first. (`nft list tables` costs more than `list chains` here: nft
   * loads every set's elements for it.)
   */
  private async scan(): Promise<Scan> {
    const env = this.options.env ?? process.env;
    const early = Boolean(env.DBUS_SYSTEM_BUS_ADDRESS) || this.options.netns === undefined;
    const asked = early ? this.askFirewalld(false) : undefined;
    // Read before the listings: a commit while they are taken moves the generation past this one.
    const gen = await this.nft.generationNow();
    const last = this.lastScan ?? this.remembered(gen);
    const unchanged = last !== undefined && gen !== undefined && this.nft.othersUnchangedSince(last.gen, gen);
    let chains: ChainObj[] | undefined = unchanged ? undefined : await this.nft.listChains();
    const firewalldTable = chains ? chains.some((c) => c.family === 'inet' && c.table === 'firewalld') : Boolean(last?.firewalldTable);
    const { firewalld, state } = (await asked) ?? (await this.askFirewalld(firewalldTable));
    const viaDbus = firewalld !== undefined;
    const reuse = unchanged && last.viaDbus === viaDbus;
    const blocking = reuse ? last.blocking : await this.blockingChains((chains ??= await this.nft.listChains()), viaDbus);
    if (gen !== undefined) {
      this.lastScan = { gen, firewalldTable, blocking, viaDbus };
      if (!reuse) this.remember(this.lastScan);
    }
    return { blocking, firewalld, firewalldState: state, gen };
  }

  /**
   * Starts a look now, for the sync of the same operation to take (`sync(state, early)`): apply
   * looks at the host firewall while it looks at its own links and tables, so a one-shot's new
   * D-Bus connection and firewalld's slow answers overlap the rest of its work instead of adding
   * to it (README "Performance": "detection added to a one-shot apply").
   */
  lookEarly(): EarlyLook | undefined {
    if (!this.enabled) return undefined;
    return this.scan().catch(() => undefined);
  }

  /**
   * The early look when nothing but nftbridge's own commits changed the tables since it was taken
   * (its firewalld part is as fresh as any look an operation acts on); a new look otherwise.
   */
  private async take(early: EarlyLook | undefined): Promise<Scan> {
    const scan = await early;
    if (scan?.gen !== undefined) {
      const now = await this.nft.generationNow();
      if (now !== undefined && this.nft.othersUnchangedSince(scan.gen, now)) return scan;
    }
    return this.scan();
  }

  /**
   * The tables' part of the last look and the ruleset generation it was taken at: nothing but
   * nftbridge's own commits since, and it still holds (a long-lived Host's apply then looks at no
   * table; a one-shot's first look is whole).
   */
  private lastScan: LastScan | undefined;

  /** A look an earlier process kept, of this namespace, at this generation and with this mask. */
  private remembered(gen: number | undefined): LastScan | undefined {
    const namespace = this.nft.generationsOf;
    if (!this.memo || gen === undefined || namespace === undefined) return undefined;
    const kept = this.memo.load();
    return kept?.namespace === namespace && kept.gen === gen && kept.mask === this.options.mask ? kept : undefined;
  }

  private remember(scan: LastScan): void {
    const namespace = this.nft.generationsOf;
    if (this.memo && namespace !== undefined) this.memo.save({ ...scan, namespace, mask: this.options.mask });
  }

  /**
   * Keeps the last look for the next process at today's generation, when nothing but nftbridge's
   * own commits came after it (an operation's commits move the generation after its look).
   */
  async persist(): Promise<void> {
    const last = this.lastScan;
    if (!this.memo || !last) return;
    const now = await this.nft.generationNow();
    if (now !== undefined && now !== last.gen && this.nft.othersUnchangedSince(last.gen, now)) this.remember({ ...last, gen: now });
  }

  private async askFirewalld(firewalldTable: boolean): Promise<{ firewalld: Firewalld | undefined; state: FirewalldState | undefined }> {
    const firewalld = await this.connectFirewalld(firewalldTable);
    const first = this.firstRead;
    this.firstRead = undefined;
    return { firewalld, state: first ?? (await firewalld?.read()) };
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
          return { ...c, kind: 'firewalld' as const, why: FIREWALLD_WHY, ours: [] };
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
    return buildReport(state, scan, base, this.ruleTargets(scan));
  }

  /**
   * Makes the integration match `state`: accept rules in every blocking chain and nftbridge's
   * bridges in its firewalld zone while it has networks; nothing of it once it has none.
   * Returns what changed (empty when nothing had to).
   */
  async sync(state: State, early?: EarlyLook): Promise<string[]> {
    if (!this.enabled) return [];
    const scan = await this.take(early);
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
    if (commands.length > 0) await this.nft.apply({ nftables: commands } as NftDocument, 'other-tables');
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
    if (commands.length > 0) await this.nft.apply({ nftables: commands } as NftDocument, 'other-tables');
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

const insertRule = (b: BlockingChain, mask: number): NftCommand => ({
  insert: { rule: { family: b.family, table: b.table, chain: b.chain, comment: ruleComment(mask), expr: acceptRuleExpr(mask) } },
});
const deleteRule = (b: BlockingChain, handle: number): NftCommand => ({
  delete: { rule: { family: b.family, table: b.table, chain: b.chain, handle } },
});
