/**
 * The link check that redoes only what changed says what a whole check says, over random
 * sequences of state changes (endpoints, containers and networks added, removed, replaced),
 * link changes (made, deleted, moved to another bridge, marked or not), namespace changes (a kept
 * path forgotten and naming another namespace, a volatile path changing unannounced) and dumps.
 * Without it, a bug in the memo would hide drift.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChangeLog } from '../../../src/ip/change-log.js';
import { LinkTable } from '../../../src/ip/link-view.js';
import type { SteadyNamespaces } from '../../../src/ip/netns.js';
import type { LinkAddresses } from '../../../src/ip/schema.js';
import { checkLinksKept, linkChecks } from '../../../src/reconcile/link-memo.js';
import { arrayChanges } from '../../../src/topology/array-changes.js';
import { checkLinks, type HostLinks } from '../../../src/reconcile/links.js';
import type { Container, Endpoint, Network, State } from '../../../src/topology/state.js';

const MARK = 'nftbridge:memo';
const NAMES = ['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'br0', 'br1', 'br2'];
const BRIDGES = ['br0', 'br1', 'br2'];
const PATHS = ['/run/netns/a', '/run/netns/b', '/run/netns/c', '/proc/7/ns/net'];

/** The namespace cache's contract: a kept path keeps its identity until a version names it; /proc paths are never kept. */
class FakeNamespaces implements SteadyNamespaces {
  readonly truth = new Map<string, string>();
  private readonly ids = new Map<string, string>();
  readonly changes = new ChangeLog();
  identity = (path: string) => {
    const kept = this.ids.get(path);
    if (kept !== undefined) return kept;
    const id = this.truth.get(path);
    if (id !== undefined && !path.startsWith('/proc/')) this.ids.set(path, id);
    return id;
  };
  isNamespace = () => true;
  kept = (path: string) => this.ids.has(path);
  /** The path names another namespace (or none) now; a mount notice tells of it unless it is a /proc path. */
  change(path: string, id: string | undefined): void {
    if (id === undefined) this.truth.delete(path);
    else this.truth.set(path, id);
    if (this.ids.delete(path)) this.changes.record(new Set([path]));
  }
}

type Command =
  | { op: 'endpoint+'; net: number; box: number; name: number }
  | { op: 'endpoint-'; at: number }
  | { op: 'endpoint~'; at: number; net: number }
  | { op: 'container+'; box: number; path: number; pinned: boolean }
  | { op: 'container-'; at: number }
  | { op: 'network+'; net: number; bridge: number }
  | { op: 'network-'; at: number }
  | { op: 'link'; name: number; master: number; marked: boolean; up: boolean }
  | { op: 'link-'; name: number }
  | { op: 'path'; path: number; id: number }
  | { op: 'dump' }
  | { op: 'check'; marked: boolean };

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ op: fc.constant('endpoint+' as const), net: fc.nat(3), box: fc.nat(3), name: fc.nat(NAMES.length - 1) }),
  fc.record({ op: fc.constant('endpoint-' as const), at: fc.nat(9) }),
  fc.record({ op: fc.constant('endpoint~' as const), at: fc.nat(9), net: fc.nat(3) }),
  fc.record({ op: fc.constant('container+' as const), box: fc.nat(3), path: fc.nat(PATHS.length - 1), pinned: fc.boolean() }),
  fc.record({ op: fc.constant('container-' as const), at: fc.nat(5) }),
  fc.record({ op: fc.constant('network+' as const), net: fc.nat(3), bridge: fc.nat(BRIDGES.length - 1) }),
  fc.record({ op: fc.constant('network-' as const), at: fc.nat(3) }),
  fc.record({
    op: fc.constant('link' as const),
    name: fc.nat(NAMES.length - 1),
    master: fc.nat(BRIDGES.length),
    marked: fc.boolean(),
    up: fc.boolean(),
  }),
  fc.record({ op: fc.constant('link-' as const), name: fc.nat(NAMES.length - 1) }),
  fc.record({ op: fc.constant('path' as const), path: fc.nat(PATHS.length - 1), id: fc.nat(2) }),
  { arbitrary: fc.constant({ op: 'dump' as const }), weight: 1 },
  // Checks are frequent, and mostly with the owner's mark (another mark starts the memo afresh).
  {
    arbitrary: fc.record({ op: fc.constant('check' as const), marked: fc.constantFrom(true, true, true, true, true, true, true, false) }),
    weight: 8,
  },
);

/** A host: a kept link table with its log, a namespace cache, and a state changed the way operations change it (new arrays, new objects). */
function host() {
  let table = new LinkTable([]);
  const log = new ChangeLog();
  const ns = new FakeNamespaces();
  let index = 0;
  let state: State = { version: 1, networks: [], containers: [], endpoints: [], ports: [] };
  const links = (): HostLinks => ({
    all: table.all,
    byName: table.byName,
    aliases: table.aliases,
    routes: new Set(state.networks.flatMap((n) => n.subnets.map((s) => `${s.cidr} ${n.bridge}`))),
    namespaces: ns,
    changes: log,
  });
  const settle = () => {
    log.record(table.touched);
    table.touched = new Set();
  };
  const apply = (c: Command): void => {
    switch (c.op) {
      case 'endpoint+': {
        const ep: Endpoint = {
          network: `n${c.net}`,
          container: `c${c.box}`,
          ifname: 'eth0',
          hostIfname: NAMES[c.name] ?? 'v0',
          addresses: ['10.0.0.2/24'],
        };
        state = { ...state, endpoints: [...state.endpoints, ep] };
        return;
      }
      case 'endpoint-':
        state = { ...state, endpoints: state.endpoints.filter((_, i) => i !== c.at) };
        return;
      case 'endpoint~':
        state = { ...state, endpoints: state.endpoints.map((e, i) => (i === c.at ? { ...e, network: `n${c.net}` } : e)) };
        return;
      case 'container+': {
        const path = PATHS[c.path] ?? '/run/netns/a';
        const box: Container = { name: `c${c.box}`, netns: path, created: true, ...(c.pinned ? { nsid: '4:1' } : {}) };
        state = { ...state, containers: [...state.containers, box] };
        return;
      }
      case 'container-':
        state = { ...state, containers: state.containers.filter((_, i) => i !== c.at) };
        return;
      case 'network+': {
        const net: Network = {
          name: `n${c.net}`,
          bridge: BRIDGES[c.bridge] ?? 'br0',
          subnets: [{ cidr: `10.${c.net}.0.0/24`, gateway: `10.${c.net}.0.1` }],
          internal: false,
          icc: true,
        };
        state = { ...state, networks: [...state.networks, net] };
        return;
      }
      case 'network-':
        state = { ...state, networks: state.networks.filter((_, i) => i !== c.at) };
        return;
      case 'link': {
        const name = NAMES[c.name] ?? 'v0';
        const had = table.byName.get(name);
        const master = BRIDGES[c.master];
        const link: LinkAddresses = {
          ifindex: had?.ifindex ?? ++index,
          ifname: name,
          flags: c.up ? ['UP'] : [],
          addr_info: [{ local: `10.${name.length}.0.1` }] as LinkAddresses['addr_info'],
          ...(master !== undefined ? { master } : {}),
          ...(c.marked ? { ifalias: MARK } : {}),
        };
        table.set(link.ifindex, link);
        settle();
        return;
      }
      case 'link-': {
        const had = table.byName.get(NAMES[c.name] ?? 'v0');
        if (had) table.delete(had.ifindex);
        settle();
        return;
      }
      case 'path':
        ns.change(PATHS[c.path] ?? '/run/netns/a', c.id === 0 ? undefined : `4:${c.id}`);
        return;
      case 'dump':
        table = new LinkTable(table.all);
        log.record('all');
        return;
      case 'check': {
        const mark = c.marked ? MARK : undefined;
        const l = links();
        expect(checkLinksKept(state, l, mark)).toEqual(checkLinks(state, l, mark));
        return;
      }
    }
  };
  return { apply };
}

describe('the link check that redoes what changed', () => {
  it('says what a whole check says, whatever happened in between', () => {
    const before = { ...linkChecks };
    fc.assert(
      fc.property(fc.array(command, { minLength: 20, maxLength: 80, size: 'max' }), (commands) => {
        const h = host();
        for (const c of commands) h.apply(c);
        h.apply({ op: 'check', marked: true });
      }),
      { numRuns: 300 },
    );
    // The memo answered most checks: a property that only ever ran whole checks would say nothing.
    expect(linkChecks.kept - before.kept).toBeGreaterThan(linkChecks.whole - before.whole);
  });

  it('tells what was added and removed, by identity, in one walk', () => {
    const [a, b, c, d] = [{}, {}, {}, {}];
    expect(arrayChanges([a, b, c], [a, c, d])).toEqual({ added: [d], removed: [b] });
    expect(arrayChanges([a, b], [a, c])).toEqual({ added: [c], removed: [b] });
    expect(arrayChanges([], [a])).toEqual({ added: [a], removed: [] });
    expect(
      arrayChanges(
        Array.from({ length: 100 }, () => ({})),
        [],
      ),
    ).toBeUndefined();
    fc.assert(
      fc.property(fc.array(fc.nat(6), { maxLength: 12 }), fc.array(fc.nat(6), { maxLength: 12 }), (xs, ys) => {
        const pool = Array.from({ length: 7 }, () => ({}));
        const [from, to] = [xs.map((i) => pool[i]), ys.map((i) => pool[i])];
        const r = arrayChanges(from, to);
        if (!r) return;
        const kept = [...from];
        for (const x of r.removed) kept.splice(kept.indexOf(x), 1);
        const count = (list: unknown[]) => pool.map((p) => list.filter((x) => x === p).length);
        expect(count([...kept, ...r.added])).toEqual(count(to));
      }),
    );
  });
});
