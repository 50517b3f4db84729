/** Compares the desired state with what the kernel has: the owned table, bridges, endpoints, namespaces. */
import type { Firewall } from '../firewall/firewall.js';
import type { Transition } from '../nft/client.js';
import type { Listing, NftDocument } from '../nft/schema.js';
import type { Element } from '../nft/transaction.js';
import type { State } from '../topology/state.js';
import { canonical } from '../nft/canonical.js';
import type { Orphans } from './orphans.js';

export { canonical };

export type DriftKind = 'table' | 'chain' | 'set' | 'bridge' | 'address' | 'route' | 'endpoint' | 'container' | 'orphan' | 'host-firewall';

export interface Drift {
  kind: DriftKind;
  /** What differs: a chain, set, bridge or endpoint name. */
  subject: string;
  reason: string;
}

/** The parts of a table that matter for equality: chain specs, rule bodies, set elements. */
export interface TableShape {
  chains: Map<string, string>;
  rules: Map<string, string[]>;
  /** Elements by their canonical text, with the element itself (for element-only repairs). */
  sets: Map<string, { decl: string; elems: Map<string, Element> }>;
}

const byCanonical = (elems: readonly Element[]) => new Map(elems.map((e) => [canonical(e), e] as const));

function emptyShape(): TableShape {
  return { chains: new Map(), rules: new Map(), sets: new Map() };
}

export function shapeOfDocument(doc: NftDocument): TableShape {
  const shape = emptyShape();
  for (const cmd of doc.nftables) {
    if (!('add' in cmd)) continue;
    const obj = cmd.add;
    if ('chain' in obj) {
      const { name, type, hook, prio, policy } = obj.chain;
      shape.chains.set(name, canonical({ type, hook, prio, policy }));
      shape.rules.set(name, shape.rules.get(name) ?? []);
    } else if ('rule' in obj) shape.rules.set(obj.rule.chain, [...(shape.rules.get(obj.rule.chain) ?? []), canonical(obj.rule.expr)]);
    else if ('set' in obj || 'map' in obj) {
      const s = 'set' in obj ? obj.set : obj.map;
      shape.sets.set(s.name, { decl: canonical({ type: s.type, map: s.map, flags: s.flags }), elems: new Map() });
    } else if ('element' in obj) {
      const s = shape.sets.get(obj.element.name);
      if (s) for (const el of obj.element.elem) s.elems.set(canonical(el), el);
    }
  }
  return shape;
}

export function shapeOfListing(listing: Listing): TableShape {
  const shape = emptyShape();
  for (const item of listing.nftables) {
    if ('chain' in item && item.chain && typeof item.chain === 'object' && 'hook' in item.chain) {
      const { name, type, hook, prio, policy } = item.chain as {
        name: string;
        type?: string;
        hook?: string;
        prio?: number;
        policy?: string;
      };
      shape.chains.set(name, canonical({ type, hook, prio, policy }));
      shape.rules.set(name, shape.rules.get(name) ?? []);
    } else if ('chain' in item && item.chain && typeof item.chain === 'object') {
      const name = (item.chain as { name: string }).name;
      shape.chains.set(name, canonical({}));
      shape.rules.set(name, shape.rules.get(name) ?? []);
    } else if ('rule' in item && item.rule && typeof item.rule === 'object') {
      const r = item.rule as { chain: string; expr: unknown[] };
      shape.rules.set(r.chain, [...(shape.rules.get(r.chain) ?? []), canonical(r.expr)]);
    } else if (('set' in item && item.set) || ('map' in item && item.map)) {
      const s = ('set' in item ? item.set : item.map) as { name: string; type: unknown; map?: string; flags?: string[]; elem?: Element[] };
      shape.sets.set(s.name, { decl: canonical({ type: s.type, map: s.map, flags: s.flags }), elems: byCanonical(s.elem ?? []) });
    }
  }
  return shape;
}

/** Differences between the table nftbridge would write and the one the kernel has. */
export function diffTables(want: TableShape, have: TableShape | null): Drift[] {
  if (!have) return [{ kind: 'table', subject: 'nftbridge', reason: 'table is missing' }];
  const out: Drift[] = [];
  for (const [name, spec] of want.chains) {
    const h = have.chains.get(name);
    if (h === undefined) out.push({ kind: 'chain', subject: name, reason: 'chain is missing' });
    else if (h !== spec) out.push({ kind: 'chain', subject: name, reason: 'chain hook, priority or policy differs' });
    else if (canonical(want.rules.get(name)) !== canonical(have.rules.get(name))) {
      const w = want.rules.get(name)?.length ?? 0;
      const hv = have.rules.get(name)?.length ?? 0;
      out.push({ kind: 'chain', subject: name, reason: `rules differ (want ${w}, have ${hv})` });
    }
  }
  for (const name of have.chains.keys()) if (!want.chains.has(name)) out.push({ kind: 'chain', subject: name, reason: 'unexpected chain' });
  for (const [name, s] of want.sets) {
    const h = have.sets.get(name);
    if (!h) out.push({ kind: 'set', subject: name, reason: 'set is missing' });
    else if (h.decl !== s.decl) out.push({ kind: 'set', subject: name, reason: 'set type or flags differ' });
    else {
      const { add, del } = elementDiff(s.elems, h.elems);
      if (add.length + del.length > 0)
        out.push({ kind: 'set', subject: name, reason: `elements differ (${add.length} missing, ${del.length} unexpected)` });
    }
  }
  for (const name of have.sets.keys()) if (!want.sets.has(name)) out.push({ kind: 'set', subject: name, reason: 'unexpected set' });
  return out;
}

function elementDiff(want: Map<string, Element>, have: Map<string, Element>): { add: Element[]; del: Element[] } {
  const add: Element[] = [];
  const del: Element[] = [];
  for (const [k, el] of want) if (!have.has(k)) add.push(el);
  for (const [k, el] of have) if (!want.has(k)) del.push(el);
  return { add, del };
}

/**
 * When chains, rules and set declarations all match and only elements differ (a container that
 * went away, an element somebody deleted), the repair is a handful of element changes instead of
 * a rebuild. Undefined when anything else differs.
 */
export function elementRepair(want: TableShape, have: TableShape | null): { set: string; add: Element[]; del: Element[] }[] | undefined {
  if (!have) return undefined;
  const structural = diffTables(
    { ...want, sets: new Map([...want.sets].map(([n, x]) => [n, { ...x, elems: new Map() }])) },
    { ...have, sets: new Map([...have.sets].map(([n, x]) => [n, { ...x, elems: new Map() }])) },
  );
  if (structural.length > 0) return undefined;
  const out: { set: string; add: Element[]; del: Element[] }[] = [];
  for (const [name, w] of want.sets) {
    const d = elementDiff(w.elems, have.sets.get(name)?.elems ?? new Map());
    if (d.add.length + d.del.length > 0) out.push({ set: name, ...d });
  }
  return out;
}

export interface TableObservation {
  drift: Drift[];
  want: TableShape;
  have: TableShape | null;
  /** Set by observeAll when it was given the owner's mark. */
  orphans?: Orphans;
}

/** Drift of nftbridge's tables (as opposed to links, containers, orphans and the host firewall). */
export const TABLE_KINDS: ReadonlySet<string> = new Set(['table', 'chain', 'set']);

export type TableReader = Pick<Firewall, 'list' | 'render' | 'unchangedSince' | 'generationNow' | 'found'>;

/**
 * Only the owned table differs from `state`? (One nft listing, no link reads.) When nothing was
 * committed in nftables since the tables were known to match `state`, not even the listing: a
 * table of 10,000 ports costs a read of the ruleset generation (nft/generation.ts).
 */
export async function observeTable(ctx: { firewall: TableReader }, state: State): Promise<TableObservation> {
  if (await ctx.firewall.unchangedSince(state)) return { drift: [], want: emptyShape(), have: null };
  // Read before the listing: a commit while it is taken moves the generation past this one.
  const gen = await ctx.firewall.generationNow();
  const listing = await ctx.firewall.list();
  // A missing table is rebuilt whole: its 10,000 wanted elements need not be rendered to say so.
  if (!listing) return { drift: state.networks.length === 0 ? [] : diffTables(emptyShape(), null), want: emptyShape(), have: null };
  const want = shapeOfDocument(ctx.firewall.render(state));
  const have = shapeOfListing(listing);
  const drift = diffTables(want, have);
  // The listing is the token of what the tables held: an element repair applied from it (nobody
  // committing in between) leaves them known to match `state` (repairTransition).
  if (gen !== undefined) ctx.firewall.found(gen, drift.length === 0 ? state : have);
  return { drift, want, have };
}

/**
 * What an element repair computed from `seen` does: it takes the tables from what was listed to
 * `state`. So the next look (the first `status` after an `apply` that added 10,000 elements, the
 * watch daemon's after its own repair) reads the ruleset generation instead of listing them all.
 */
export const repairTransition = (seen: TableObservation, state: State): Transition =>
  seen.have ? { from: seen.have, to: state } : 'own-tables';
