/** The owned table in the kernel: full atomic rebuilds, and element-only changes for published ports. */
import { NftError } from '../errors.js';
import type { NftClient, Transition } from '../nft/client.js';
import type { Listing, NftDocument } from '../nft/schema.js';
import { type Element, keyOf } from '../nft/transaction.js';
import type { Endpoint, PublishedPort, State } from '../topology/state.js';
import { endpointElements, spoofTransaction } from './antispoof.js';
import { familyOfSet, SPOOF_FAMILY, TABLE } from './names.js';
import { maskOf, networkDelta } from './network-rules.js';
import { ownedTransaction, portElements, type RenderOptions, renderRuleset } from './render.js';

/**
 * The start of a rebuild: both tables made (if missing) and deleted, to be made again by the
 * document. Nothing of what was there before outlives it, so its result is the state rendered,
 * whatever the tables held: a rebuild is known to match without a listing.
 */
const FRESH_TABLES = [
  ...ownedTransaction().addTable().deleteTable().toDocument().nftables,
  ...spoofTransaction().addTable().deleteTable().toDocument().nftables,
];

export class Firewall {
  constructor(
    readonly nft: NftClient,
    readonly renderOptions: RenderOptions = {},
  ) {}

  /**
   * The last state rendered and its document. States are never changed in place (every change
   * makes a new one), so a repair of the same state (watch after a firewall reload, say) renders
   * it once (bench: "watch on a large host", repair of a deleted table). Documents are not to be
   * changed either.
   */
  private rendered: { state: State; doc: NftDocument } | undefined;
  private rebuilt: { doc: NftDocument; whole: NftDocument } | undefined;

  /** The document for `state` with this host's options (the mark mask). */
  render(state: State): NftDocument {
    if (this.rendered?.state !== state) this.rendered = { state, doc: renderRuleset(state, this.renderOptions) };
    return this.rendered.doc;
  }

  /**
   * One transaction that replaces the tables' contents; returns the document applied. Both tables
   * are deleted and made again in it, not just flushed: `flush table` would leave the chains of
   * networks the state no longer has (network-rules.ts), and one somebody added. It costs the same
   * as a flush (bench: "full rebuild"). The tables then match `state` whatever they held before,
   * so the next look (the watch daemon's, woken by the echo of this very commit) reads the ruleset
   * generation instead of listing 10,000 elements (bench: "watch on a large host", repair of a
   * deleted table).
   */
  async rebuild(state: State): Promise<NftDocument> {
    const doc = this.render(state);
    // Kept with the rendered document, so that a repair of the same state hands NftClient the
    // same object again (it then neither stringifies nor validates it).
    if (this.rebuilt?.doc !== doc) this.rebuilt = { doc, whole: { nftables: [...FRESH_TABLES, ...doc.nftables] } };
    await this.nft.apply(this.rebuilt.whole, { to: state });
    return doc;
  }

  /**
   * A network created or removed (or changed): only its elements and chains change, never the
   * port maps (network-rules.ts). A table that is not as expected (gone, a map deleted) fails that
   * document, and is rebuilt whole instead (which leaves no chain of a network `state` does not have).
   */
  async rebuildRules(state: State, from: State): Promise<void> {
    const mask = maskOf(this.renderOptions.markMask);
    const doc = networkDelta(from, state, mask);
    if (doc.nftables.length === 0) return;
    try {
      await this.nft.apply(doc, { from, to: state });
    } catch (err) {
      if (!(err instanceof NftError)) throw err;
      await this.rebuild(state);
    }
  }

  /**
   * Adds map elements only: the cost does not grow with the number of ports already published.
   * `state` includes the ports. When the table is not as expected (deleted by someone, say), the
   * whole table is rebuilt for `state` instead.
   */
  async addPorts(state: State, ports: readonly PublishedPort[], transition?: Transition): Promise<NftDocument> {
    return this.changeElements(state, ports, 'add', state, transition);
  }

  /** `state` still holds the ports, so their elements can be named; `after` is the state without them. */
  async removePorts(state: State, ports: readonly PublishedPort[], after: State, transition?: Transition): Promise<NftDocument> {
    return this.changeElements(state, ports, 'delete', after, transition);
  }

  private async changeElements(
    state: State,
    ports: readonly PublishedPort[],
    how: 'add' | 'delete',
    fallback: State,
    transition?: Transition,
  ): Promise<NftDocument> {
    const tx = ownedTransaction();
    for (const port of ports)
      for (const { set, elem } of portElements(state, port)) {
        if (how === 'add') tx.addElements(set, elem);
        else tx.deleteElements(set, elem.map(keyOf));
      }
    const doc = tx.toDocument();
    if (tx.size === 0) return doc;
    try {
      await this.nft.apply(doc, transition);
      return doc;
    } catch (err) {
      if (!(err instanceof NftError)) throw err;
      return this.rebuild(fallback);
    }
  }

  /** An endpoint's addresses through its port (anti-spoofing elements); the table is rebuilt for `state` when not as expected. */
  async addEndpoints(state: State, eps: readonly Endpoint[], transition?: Transition): Promise<void> {
    await this.changeEndpoints(eps, 'add', state, transition);
  }

  /** `after` is the state without the endpoints, for the rebuild when the table is not as expected. */
  async removeEndpoints(eps: readonly Endpoint[], after: State, transition?: Transition): Promise<void> {
    await this.changeEndpoints(eps, 'delete', after, transition);
  }

  /** One transaction for any number of endpoints (a group of connects commits together). */
  private async changeEndpoints(eps: readonly Endpoint[], how: 'add' | 'delete', fallback: State, transition?: Transition): Promise<void> {
    const tx = spoofTransaction();
    for (const ep of eps)
      for (const { set, elem } of endpointElements(ep)) {
        if (how === 'add') tx.addElements(set, elem);
        else tx.deleteElements(set, elem);
      }
    try {
      await this.nft.apply(tx.toDocument(), transition);
    } catch (err) {
      if (!(err instanceof NftError)) throw err;
      await this.rebuild(fallback);
    }
  }

  /** Nothing changed in nftables since the tables were known to match `state` (NftClient.unchangedSince). */
  unchangedSince(state: State): Promise<boolean> {
    return this.nft.unchangedSince(state);
  }

  generationNow(): Promise<number | undefined> {
    return this.nft.generationNow();
  }

  /** A listing taken at generation `gen` or later matched `token` (a state, or the listing's own shape). */
  found(gen: number, token: object): void {
    this.nft.found(gen, token);
  }

  /** Both of nftbridge's tables, as one listing (their object names differ); null when the main table is missing. */
  async list(): Promise<Listing | null> {
    // Both asked at once: listed one after the other, the common case (the table is there) waits
    // a session round trip more (bench "repair latency", a container's namespace deleted: 30 ms
    // against 37 ms). A missing main table means a rebuild of both, which is not kept waiting for
    // the anti-spoofing listing: with 1,000 endpoints that listing takes 40-70 ms (bench "watch
    // on a large host", repair of a deleted table).
    const main = this.nft.list();
    const spoof = this.nft.list(SPOOF_FAMILY, TABLE);
    spoof.catch(() => undefined); // awaited below, or not needed
    const found = await main;
    if (!found) return null;
    return { nftables: [...found.nftables, ...((await spoof)?.nftables ?? [])] };
  }

  /** Element changes (a drift repair) in one transaction, each set in its own table. */
  elementChanges(changes: readonly { set: string; add: Element[]; del: Element[] }[]): NftDocument {
    const main = ownedTransaction();
    const spoof = spoofTransaction();
    for (const { set, add, del } of changes) {
      const tx = familyOfSet(set) === SPOOF_FAMILY ? spoof : main;
      tx.deleteElements(set, del.map(keyOf));
      tx.addElements(set, add);
    }
    return { nftables: [...main.toDocument().nftables, ...spoof.toDocument().nftables] };
  }

  async remove(): Promise<void> {
    await this.nft.deleteTable();
    await this.nft.deleteTable(SPOOF_FAMILY, TABLE);
  }

  async close(): Promise<void> {
    await this.nft.close();
  }
}
