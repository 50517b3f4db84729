/** Drives the nft binary for one owned table, inside a chosen network namespace. */
import { isNotFound, NftError, SchemaError } from '../errors.js';
import type { Runner } from '../exec/runner.js';
import { NftSession } from './session.js';
import { WarmNft } from './warm.js';
import { type ChainObj, listingSchema, type Family, type Listing, type NftDocument } from './schema.js';
import { nftFeatures } from './features.js';
import { sameJson } from './same-json.js';
import { serialize } from './serialize.js';
import { RulesetGeneration } from './generation.js';

export { serialize };

/**
 * Documents larger than this go to a one-shot nft (a spare started ahead, see WarmNft). nft -i
 * reads its input through libedit, one character at a time, so at about 4 KB a document costs as
 * much as a spare that has nft loaded and waiting (bench: the "nft input" rows).
 */
const SESSION_MAX = 4 * 1024;

/**
 * Documents at least this big are applied inside the gate, when there is one: the watch daemon
 * leaves the kernel's notices meanwhile (monitor/notice-gate.ts), and its own load is not echoed
 * as events. About 7,500 published ports: below that the notices cost a few milliseconds, and
 * the daemon's events show its loads as before.
 */
const GATE_MIN = 256 * 1024;

/** Runs an apply; what the watch daemon wraps a big document's load in (monitor/notice-gate.ts). */
export interface ApplyGate {
  around<T>(apply: () => Promise<T>): Promise<T>;
}

/** How many of its own commits a client remembers (NftClient.othersUnchangedSince). */
const OWN_WINDOW = 256;

/**
 * What a committed document did, so that a later check can trust the tables without listing them:
 * nftbridge's tables went from holding `from` (a token: the desired state they matched) to holding
 * `to`; or they hold `to` whatever they held (a rebuild, which deletes and remakes both); or they
 * changed in a way only a listing can tell ('own-tables'); or only other tables changed.
 */
export type Transition = { from: object; to: object } | { to: object } | 'own-tables' | 'other-tables';

export class NftClient {
  private session: NftSession | undefined;
  private warm: WarmNft | undefined;
  private generation: RulesetGeneration | undefined;
  /** The tables matched `token` at ruleset generation `gen` (see generation.ts). */
  private known: { gen: number; token: object } | undefined;
  /** Generations made by commits of ours that changed nftbridge's tables only (the newest OWN_WINDOW). */
  private ownGens: number[] = [];

  constructor(
    private readonly runner: Runner,
    readonly family: Family,
    readonly table: string,
    readonly netns?: string,
    /** Use a long-lived `nft -j -i` for applies and listings (no process start each time). */
    private readonly useSession = false,
  ) {}

  /** Set by the watch daemon while it runs (see ApplyGate). */
  gate: ApplyGate | undefined;

  /** Set when the session cannot be used: a version whose marker text is not verified, or an nft built without `-i`. */
  private noSession = false;

  private async live(): Promise<NftSession | undefined> {
    if (!this.useSession || this.noSession) return undefined;
    if (!(await nftFeatures(this.runner)).session) {
      this.noSession = true;
      return undefined;
    }
    if (!this.session?.alive) this.session = new NftSession(this.netns, this.runner);
    return this.session;
  }

  /**
   * Runs `viaSession` through the session, or `oneShot` without it. A session that ends on its
   * very first request (nft built without its interactive mode) is given up for the one-shot path.
   */
  private async withSession<T>(viaSession: (s: NftSession) => Promise<T>, oneShot: () => Promise<T>, eligible = true): Promise<T> {
    const session = eligible ? await this.live() : undefined;
    if (!session) return oneShot();
    try {
      return await viaSession(session);
    } catch (err) {
      if (!(err instanceof NftError) || err.exitCode !== undefined || this.sessionWorked) throw err;
      this.noSession = true;
      return oneShot();
    } finally {
      if (session.alive) this.sessionWorked = true;
    }
  }

  private sessionWorked = false;

  /** The last document validated, as given and as serialized: repairs apply the same one again. */
  private lastValidated: { doc: NftDocument; text: string } | undefined;

  /** The ruleset generation now; undefined without the long-lived processes, or where it cannot be read. */
  async generationNow(): Promise<number | undefined> {
    if (!this.useSession) return undefined;
    this.generation ??= new RulesetGeneration(this.netns, this.runner);
    return this.generation.read();
  }

  /** The namespace the generations are of (see RulesetGeneration.namespace). */
  get generationsOf(): string | undefined {
    return this.generation?.namespace;
  }

  /** A listing taken at generation `gen` or later matched `token`. */
  found(gen: number, token: object): void {
    this.known = { gen, token };
  }

  /**
   * Every commit from generation `since` to `now` was one of ours to nftbridge's own tables: the
   * other tables (a host firewall's) are as they were at `since`.
   */
  othersUnchangedSince(since: number, now: number): boolean {
    if (now < since || now - since > OWN_WINDOW) return false;
    for (let g = since + 1; g <= now; g++) if (!this.ownGens.includes(g)) return false;
    return true;
  }

  /** Nothing was committed in this namespace since the tables were known to match `token`. */
  async unchangedSince(token: object): Promise<boolean> {
    const known = this.known;
    if (known?.token !== token) return false;
    return (await this.generationNow()) === known.gen;
  }

  /**
   * After a commit: the tables match the transition's `to` when the generation moved by exactly
   * one (this commit, nobody else's) from one where they were known to match its `from`.
   */
  private async track(before: number | undefined, transition: Transition | undefined): Promise<void> {
    const known = this.known;
    this.known = undefined;
    if (before === undefined || transition === undefined) return;
    const after = await this.generationNow();
    if (after !== before + 1) return;
    if (transition !== 'other-tables') this.ownGens = [...this.ownGens.slice(1 - OWN_WINDOW), after];
    if (transition === 'other-tables') {
      if (known?.gen === before) this.known = { gen: after, token: known.token };
    } else if (transition !== 'own-tables' && (!('from' in transition) || (known?.gen === before && known.token === transition.from)))
      this.known = { gen: after, token: transition.to };
  }

  /**
   * Applies a document in one atomic transaction; validating first keeps bad JSON from reaching
   * nft. `transition` says what it does to nftbridge's tables; without one, they are not trusted
   * until listed again.
   */
  async apply(doc: NftDocument, transition?: Transition): Promise<void> {
    const before = transition === undefined ? undefined : await this.generationNow();
    try {
      await this.applyText(doc);
    } catch (err) {
      this.known = undefined;
      throw err;
    }
    await this.track(before, transition);
  }

  private async applyText(doc: NftDocument): Promise<void> {
    // Validation is a good part of a repair (bench: "repair latency"); the text of a document
    // that passed once needs no second look. The same document object again (a repair of an
    // unchanged state: Firewall.render keeps its document) is not even walked (sameJson's first test).
    const last = this.lastValidated;
    const text = last && sameJson(last.doc, doc) ? last.text : serialize(doc);
    this.lastValidated = { doc, text };
    await this.withSession(
      async (session) => void (await session.run(text)),
      async () => {
        const load = async () => {
          // The spare `nft -f` FIFO needs neither the session's marker nor nft's interactive mode.
          if (this.useSession) await (this.warm ??= new WarmNft(this.netns, this.runner)).apply(text);
          else await this.runner.run('nft', ['-j', '-f', '-'], { input: text, inputAsFile: true, netns: this.netns });
        };
        await (this.gate && text.length >= GATE_MIN ? this.gate.around(load) : load());
      },
      text.length <= SESSION_MAX,
    );
  }

  async close(): Promise<void> {
    await Promise.all([this.session?.close(), this.warm?.close(), this.generation?.close()]);
    this.session = undefined;
    this.warm = undefined;
    this.generation = undefined;
  }

  /** Asks nft whether it would accept the document (`nft -c`), changing nothing. */
  async check(doc: NftDocument): Promise<void> {
    await this.runner.run('nft', ['-c', '-j', '-f', '-'], { input: serialize(doc), inputAsFile: true, netns: this.netns });
  }

  /** Lists only the owned table (or another of nftbridge's, by family); null when it does not exist. */
  async list(family: Family = this.family, table: string = this.table): Promise<Listing | null> {
    try {
      const stdout = await this.withSession(
        async (session) => (await session.run(JSON.stringify({ nftables: [{ list: { table: { family, name: table } } }] }), true))[0] ?? '',
        async () => (await this.runner.run('nft', ['-j', 'list', 'table', family, table], { netns: this.netns })).stdout,
      );
      const parsed = listingSchema.safeParse(JSON.parse(stdout));
      if (!parsed.success) throw new SchemaError('nft -j list table', parsed.error.issues);
      return parsed.data;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** One chain with its rules (another table's, for the host firewall detection); null when it does not exist. */
  async listChain(family: Family, table: string, chain: string): Promise<Listing | null> {
    try {
      const stdout = await this.withSession(
        async (session) =>
          (await session.run(JSON.stringify({ nftables: [{ list: { chain: { family, table, name: chain } } }] }), true))[0] ?? '',
        async () => (await this.runner.run('nft', ['-j', 'list', 'chain', family, table, chain], { netns: this.netns })).stdout,
      );
      const parsed = listingSchema.safeParse(JSON.parse(stdout));
      if (!parsed.success) throw new SchemaError('nft -j list chain', parsed.error.issues);
      return parsed.data;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** Every chain of every table (no rules): where host firewall detection starts. */
  async listChains(): Promise<ChainObj[]> {
    const stdout = await this.withSession(
      async (session) => (await session.run(JSON.stringify({ nftables: [{ list: { chains: null } }] }), true))[0] ?? '',
      async () => (await this.runner.run('nft', ['-j', 'list', 'chains'], { netns: this.netns })).stdout,
    );
    const parsed = listingSchema.safeParse(JSON.parse(stdout));
    if (!parsed.success) throw new SchemaError('nft -j list chains', parsed.error.issues);
    return parsed.data.nftables.filter((o): o is { chain: ChainObj } => 'chain' in o).map((o) => o.chain);
  }

  /** Removes the owned table (or another of nftbridge's); a table that is already gone is not an error. */
  async deleteTable(family: Family = this.family, table: string = this.table): Promise<void> {
    this.known = undefined;
    try {
      await this.runner.run('nft', ['delete', 'table', family, table], { netns: this.netns });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
