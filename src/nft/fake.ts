/**
 * An in-memory nft for tests without a kernel (as knftables' fake.go): a document is applied to a
 * copy and committed only when every command succeeded, so tests see the same all-or-nothing
 * transactions as the kernel. Listings have the shape of `nft -j list table`. It models what
 * nftbridge emits: tables, chains, rules, sets and maps with their elements (nft 1.0.6's
 * `flush table` leaves elements, as the real one does).
 */
import { canonical } from './canonical.js';
import { documentSchema, type NftCommand, type NftDocument } from './schema.js';
import type { Element } from './transaction.js';

interface FakeChain {
  spec: Record<string, unknown>;
  rules: unknown[][];
}
interface FakeSet {
  kind: 'set' | 'map';
  spec: Record<string, unknown>;
  elems: Map<string, Element>;
}
interface FakeTable {
  family: string;
  name: string;
  chains: Map<string, FakeChain>;
  sets: Map<string, FakeSet>;
}

/** An nft failure as the binary reports it (stderr text), for the fake runner to throw. */
export class FakeNftFailure extends Error {}

const fail = (what: string): never => {
  throw new FakeNftFailure(`Error: Could not process rule: ${what}`);
};

export class FakeNft {
  private tables = new Map<string, FakeTable>();
  /** Every document applied (committed or not), newest last: what a test asserts about. */
  readonly applied: NftDocument[] = [];

  /** Applies a document all-or-nothing; throws FakeNftFailure and changes nothing on any error. */
  apply(doc: NftDocument, check = false): void {
    const parsed = documentSchema.parse(doc);
    if (!check) this.applied.push(parsed);
    const next = clone(this.tables);
    for (const cmd of parsed.nftables) run(next, cmd);
    if (!check) this.tables = next;
  }

  /** `nft -j list table FAMILY NAME`, or undefined when there is no such table. */
  list(family: string, name: string): { nftables: unknown[] } | undefined {
    const t = this.tables.get(`${family} ${name}`);
    if (!t) return undefined;
    const ids = { family, table: name };
    const out: unknown[] = [{ metainfo: { version: 'fake', json_schema_version: 1 } }, { table: { family, name, handle: 1 } }];
    for (const [setName, s] of t.sets)
      out.push({ [s.kind]: { ...ids, name: setName, ...s.spec, ...(s.elems.size ? { elem: [...s.elems.values()] } : {}) } });
    for (const [chainName, c] of t.chains) out.push({ chain: { ...ids, name: chainName, ...c.spec } });
    for (const [chainName, c] of t.chains) for (const expr of c.rules) out.push({ rule: { ...ids, chain: chainName, expr } });
    return { nftables: out };
  }

  /** `nft -j list chains`: every chain of every table, without rules. */
  listChains(): { nftables: unknown[] } {
    const out: unknown[] = [{ metainfo: { version: 'fake', json_schema_version: 1 } }];
    for (const [key, t] of this.tables) {
      const [family, table] = key.split(' ');
      for (const [name, c] of t.chains) out.push({ chain: { family, table, name, ...c.spec } });
    }
    return { nftables: out };
  }

  deleteTable(family: string, name: string): void {
    if (!this.tables.delete(`${family} ${name}`)) fail('No such file or directory');
  }

  /** A change made behind nftbridge's back, for drift tests: an element removed from a set. */
  deleteElement(family: string, table: string, set: string, elem: Element): void {
    this.tables.get(`${family} ${table}`)?.sets.get(set)?.elems.delete(keyOfElem(elem));
  }

  tableNames(): string[] {
    return [...this.tables.keys()].sort();
  }
}

const keyOfElem = (el: Element): string => canonical(Array.isArray(el) && el.length === 2 ? el[0] : el);

function table(tables: Map<string, FakeTable>, body: { family: string; table?: string; name?: string }, create = false): FakeTable {
  const key = `${body.family} ${body.table ?? body.name ?? ''}`;
  const t = tables.get(key);
  if (t) return t;
  if (!create) return fail('No such file or directory');
  const made: FakeTable = { family: body.family, name: body.table ?? body.name ?? '', chains: new Map(), sets: new Map() };
  tables.set(key, made);
  return made;
}

function run(tables: Map<string, FakeTable>, cmd: NftCommand): void {
  const [verb, objects] = Object.entries(cmd)[0] as [
    string,
    Record<string, Record<string, unknown> & { family: string; name: string; table?: string }>,
  ];
  const [kind, body] = Object.entries(objects)[0] as [string, Record<string, unknown> & { family: string; name: string; table?: string }];
  if (kind === 'table') {
    if (verb === 'add') table(tables, body, true);
    else if (verb === 'delete') {
      if (!tables.delete(`${body.family} ${body.name}`)) fail('No such file or directory');
    } else if (verb === 'flush') for (const c of table(tables, body).chains.values()) c.rules = [];
    return;
  }
  const t = table(tables, body);
  if (kind === 'chain' && verb === 'add') {
    const { family: _f, table: _t, name, ...spec } = body;
    const have = t.chains.get(name);
    if (have && canonical(have.spec) !== canonical(spec)) fail('File exists');
    if (!have) t.chains.set(name, { spec, rules: [] });
  } else if (kind === 'chain' && verb === 'delete') {
    if (!t.chains.has(body.name)) fail('No such file or directory');
    // As the kernel: a chain something still jumps to (a rule, a verdict map's element) stays.
    const ref = JSON.stringify({ target: body.name });
    const used =
      [...t.chains.values()].some((c) => JSON.stringify(c.rules).includes(ref)) ||
      [...t.sets.values()].some((x) => JSON.stringify([...x.elems.values()]).includes(ref));
    if (used) fail('Device or resource busy');
    t.chains.delete(body.name);
  } else if (kind === 'chain' && verb === 'flush') {
    const chain = t.chains.get(body.name) ?? fail('No such file or directory');
    chain.rules = [];
  } else if (kind === 'rule' && verb === 'add') {
    const chain = t.chains.get(String(body.chain));
    if (!chain) throw new FakeNftFailure('Error: Could not process rule: No such file or directory');
    // A rule that looks up a set or map the table does not have fails, as nft's does.
    for (const ref of JSON.stringify(body.expr).match(/"@[^"]+"/g) ?? [])
      if (!t.sets.has(ref.slice(2, -1))) throw new FakeNftFailure('Error: Could not process rule: No such file or directory');
    chain.rules.push(body.expr as unknown[]);
  } else if ((kind === 'set' || kind === 'map') && verb === 'add') {
    const { family: _f, table: _t, name, ...spec } = body;
    const have = t.sets.get(name);
    if (have && canonical(have.spec) !== canonical(spec)) fail('File exists');
    if (!have) t.sets.set(name, { kind, spec, elems: new Map() });
  } else if ((kind === 'set' || kind === 'map') && verb === 'flush') {
    const s = t.sets.get(body.name) ?? fail('No such file or directory');
    s.elems.clear();
  } else if (kind === 'element') {
    const s = t.sets.get(body.name) ?? fail('No such file or directory');
    for (const el of body.elem as Element[]) {
      if (verb === 'add') s.elems.set(keyOfElem(el), el);
      else if (verb === 'delete' && !s.elems.delete(keyOfElem(el))) fail('No such file or directory');
    }
  } else fail(`the fake does not model "${verb} ${kind}"`);
}

function clone(tables: Map<string, FakeTable>): Map<string, FakeTable> {
  const out = new Map<string, FakeTable>();
  for (const [k, t] of tables)
    out.set(k, {
      ...t,
      chains: new Map([...t.chains].map(([n, c]) => [n, { spec: c.spec, rules: [...c.rules] }])),
      sets: new Map([...t.sets].map(([n, s]) => [n, { ...s, elems: new Map(s.elems) }])),
    });
  return out;
}
