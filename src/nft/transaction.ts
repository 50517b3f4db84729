/**
 * A transaction against one table: objects get family and table from it and never repeat them,
 * and the whole thing renders to one document applied atomically by `nft -j -f -`.
 */
import type { Expr, KnownStatement, NftCommand, NftDocument, Family } from './schema.js';

export interface ChainSpec {
  name: string;
  type?: 'filter' | 'nat' | 'route';
  hook?: string;
  prio?: number;
  policy?: 'accept' | 'drop';
}

export interface MapSpec {
  name: string;
  type: string | string[];
  map?: string;
  flags?: string[];
}

export type Element = Expr | [Expr, Expr];

export const ELEMENT_CHUNK = 1000;

/** A map element [key, data] is deleted by its key. */
export const keyOf = (el: Element): Element => (Array.isArray(el) && el.length === 2 ? (el[0] as Element) : el);

export class Transaction {
  private readonly commands: NftCommand[] = [];

  constructor(
    readonly family: Family,
    readonly table: string,
  ) {}

  private get ids() {
    return { family: this.family, table: this.table };
  }

  addTable(): this {
    this.commands.push({ add: { table: { family: this.family, name: this.table } } });
    return this;
  }

  flushTable(): this {
    this.commands.push({ flush: { table: { family: this.family, name: this.table } } });
    return this;
  }

  deleteTable(): this {
    this.commands.push({ delete: { table: { family: this.family, name: this.table } } });
    return this;
  }

  /** Fails when the chain (or its table) is gone: a document that assumes the table fails whole. */
  flushChain(name: string): this {
    this.commands.push({ flush: { chain: { ...this.ids, name } } });
    return this;
  }

  /** Fails when the chain is gone or something still jumps to it: remove those references first. */
  deleteChain(name: string): this {
    this.commands.push({ delete: { chain: { ...this.ids, name } } });
    return this;
  }

  addChain(spec: ChainSpec): this {
    this.commands.push({ add: { chain: { ...this.ids, ...spec } } });
    return this;
  }

  /** A set (no `map`) or a map (with `map`, the data type). */
  addSet(spec: MapSpec): this {
    const body = { ...this.ids, ...spec };
    this.commands.push(spec.map ? { add: { map: body } } : { add: { set: body } });
    return this;
  }

  /** `flush table` leaves set and map elements in place (nft 1.0.6), so each set is flushed too. */
  flushSet(spec: Pick<MapSpec, 'name' | 'map'>): this {
    const body = { ...this.ids, name: spec.name };
    this.commands.push(spec.map ? { flush: { map: body } } : { flush: { set: body } });
    return this;
  }

  addRule(chain: string, expr: KnownStatement[]): this {
    this.commands.push({ add: { rule: { ...this.ids, chain, expr } } });
    return this;
  }

  /** Elements go in commands of at most ELEMENT_CHUNK, so no single netlink message grows without bound. */
  addElements(set: string, elem: Element[]): this {
    for (let i = 0; i < elem.length; i += ELEMENT_CHUNK)
      this.commands.push({ add: { element: { ...this.ids, name: set, elem: elem.slice(i, i + ELEMENT_CHUNK) } } });
    return this;
  }

  deleteElements(set: string, elem: Element[]): this {
    for (let i = 0; i < elem.length; i += ELEMENT_CHUNK)
      this.commands.push({ delete: { element: { ...this.ids, name: set, elem: elem.slice(i, i + ELEMENT_CHUNK) } } });
    return this;
  }

  get size(): number {
    return this.commands.length;
  }

  toDocument(): NftDocument {
    return { nftables: [...this.commands] };
  }
}
