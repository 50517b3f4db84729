/** The owned table in the kernel: full atomic rebuilds, and element-only changes for published ports. */
import { NftError } from '../errors.js';
import type { NftClient } from '../nft/client.js';
import type { NftDocument } from '../nft/schema.js';
import type { Element } from '../nft/transaction.js';
import type { PublishedPort, State } from '../topology/state.js';
import { ownedTransaction, portElements, renderRuleset } from './render.js';

export class Firewall {
  constructor(readonly nft: NftClient) {}

  /** One transaction that replaces the table's contents; returns the document applied. */
  async rebuild(state: State): Promise<NftDocument> {
    const doc = renderRuleset(state);
    try {
      await this.nft.apply(doc);
    } catch (err) {
      if (!(err instanceof NftError)) throw err;
      // A table somebody reshaped (a set of another type, say) cannot be flushed into shape:
      // delete and recreate it, still in one transaction.
      const tx = ownedTransaction().addTable().deleteTable();
      await this.nft.apply({ nftables: [...tx.toDocument().nftables, ...doc.nftables] });
    }
    return doc;
  }

  /**
   * Adds map elements only: the cost does not grow with the number of ports already published.
   * `state` includes the ports. When the table is not as expected (deleted by someone, say), the
   * whole table is rebuilt for `state` instead.
   */
  async addPorts(state: State, ports: readonly PublishedPort[]): Promise<NftDocument> {
    return this.changeElements(state, ports, 'add', state);
  }

  /** `state` still holds the ports, so their elements can be named; `after` is the state without them. */
  async removePorts(state: State, ports: readonly PublishedPort[], after: State): Promise<NftDocument> {
    return this.changeElements(state, ports, 'delete', after);
  }

  private async changeElements(state: State, ports: readonly PublishedPort[], how: 'add' | 'delete', fallback: State): Promise<NftDocument> {
    const tx = ownedTransaction();
    for (const port of ports)
      for (const { set, elem } of portElements(state, port)) {
        if (how === 'add') tx.addElements(set, elem);
        else tx.deleteElements(set, elem.map(keyOf));
      }
    const doc = tx.toDocument();
    if (tx.size === 0) return doc;
    try {
      await this.nft.apply(doc);
      return doc;
    } catch (err) {
      if (!(err instanceof NftError)) throw err;
      return this.rebuild(fallback);
    }
  }

  async remove(): Promise<void> {
    await this.nft.deleteTable();
  }

  async close(): Promise<void> {
    await this.nft.close();
  }
}

/** A map element [key, data] is deleted by its key. */
export const keyOf = (el: Element): Element => (Array.isArray(el) && el.length === 2 ? (el[0] as Element) : el);
