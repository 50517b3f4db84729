/**
 * checkLinks, redone only where something changed since the last check against the same kept
 * view: a status on a host of 500 endpoints otherwise walks every endpoint and container again,
 * cold after the operations in between (bench: "large host", status). What changed is known from
 * three sides: the state's arrays (states are never changed in place, so an endpoint or container
 * that is the same object is the same), the link view's change log (link names), and the
 * namespace cache's (paths forgotten). Anything the memo cannot follow means a whole check.
 * test/unit/reconcile/link-memo.test.ts holds it to what a whole check says.
 */
import type { Changes } from '../ip/change-log.js';
import type { NamespaceProbe, SteadyNamespaces } from '../ip/netns.js';
import type { Container, Endpoint, State } from '../topology/state.js';
import { arrayChanges } from '../topology/array-changes.js';
import type { Drift } from './drift.js';
import { checkLinks, checkNetworks, containerDrift, endpointDrift, type HostLinks, type LinkCheck } from './links.js';

type Networks = ReturnType<typeof checkNetworks>;

const isSteady = (p: NamespaceProbe): p is SteadyNamespaces => 'changes' in p && 'kept' in p;

/** How many endpoints name a link, and whether it carries the mark. */
interface NameClaim {
  claims: number;
  marked: boolean;
}

const push = <K, V>(m: Map<K, V[]>, k: K, v: V) => {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
};
const pull = <K, V>(m: Map<K, V[]>, k: K, v: V) => {
  const list = m.get(k)?.filter((x) => x !== v) ?? [];
  if (list.length > 0) m.set(k, list);
  else m.delete(k);
};

class LinkMemo {
  private linkVersion = 0;
  private nsVersion = 0;
  private endpoints: readonly Endpoint[] = [];
  private containers: readonly Container[] = [];
  private bridgeOf = new Map<string, string>();
  private readonly epDrift = new Map<Endpoint, Drift | undefined>();
  private readonly epsByName = new Map<string, Endpoint[]>();
  private readonly epsByNetwork = new Map<string, Endpoint[]>();
  private readonly names = new Map<string, NameClaim>();
  /** Names claimed by endpoints that carry the mark; those claimed twice. */
  private marked = 0;
  private twice = 0;
  private readonly boxDrift = new Map<Container, Drift | undefined>();
  private readonly boxesByPath = new Map<string, Container[]>();
  /** Containers whose identity the cache does not keep: asked at every check. */
  private readonly volatile = new Set<Container>();
  /** Endpoints and containers with drift: none, and the answer needs no walk. */
  private drifted = 0;

  constructor(
    private links: HostLinks,
    private readonly ns: SteadyNamespaces,
    readonly mark: string | undefined,
  ) {}

  /** The whole check of a new memo, remembered; undefined when the state holds one object twice (the memo keys by object). */
  fill(state: State): Networks | undefined {
    const links = this.links;
    const nets = checkNetworks(state.networks, links);
    this.bridgeOf = nets.bridgeOf;
    this.endpoints = state.endpoints;
    this.containers = state.containers;
    this.versions(links);
    const whole = state.endpoints.every((ep) => this.addEndpoint(ep)) && state.containers.every((box) => this.addContainer(box));
    return whole ? nets : undefined;
  }

  /** What changed since the last check, redone; undefined when the memo cannot follow (a whole check is due). */
  update(state: State, links: HostLinks): Networks | undefined {
    const changes = links.changes;
    if (changes === undefined || links.namespaces !== this.ns) return undefined;
    const linkNames = changes.since(this.linkVersion);
    const paths = this.ns.changes.since(this.nsVersion);
    if (linkNames === 'all' || paths === 'all') return undefined;
    const eps = arrayChanges(this.endpoints, state.endpoints);
    const boxes = arrayChanges(this.containers, state.containers);
    if (!eps || !boxes) return undefined;
    this.links = links;
    const before = this.bridgeOf;
    const nets = checkNetworks(state.networks, links);
    this.bridgeOf = nets.bridgeOf;
    for (const ep of eps.removed) this.removeEndpoint(ep);
    for (const box of boxes.removed) this.removeContainer(box);
    if (!eps.added.every((ep) => this.addEndpoint(ep)) || !boxes.added.every((box) => this.addContainer(box))) return undefined;
    // A network whose bridge is another (or that came or went): its endpoints are measured anew.
    for (const name of new Set([...before.keys(), ...nets.bridgeOf.keys()]))
      if (before.get(name) !== nets.bridgeOf.get(name)) for (const ep of this.epsByNetwork.get(name) ?? []) this.recheckEndpoint(ep);
    for (const name of linkNames) {
      this.remark(name);
      for (const ep of this.epsByName.get(name) ?? []) this.recheckEndpoint(ep);
    }
    for (const path of paths) for (const box of this.boxesByPath.get(path) ?? []) this.recheckContainer(box);
    for (const box of [...this.volatile]) this.recheckContainer(box);
    this.endpoints = state.endpoints;
    this.containers = state.containers;
    this.versions(links);
    return nets;
  }

  /** The answer for the state last checked: the networks' drift given, the rest from the memo in the state's order. */
  answer(nets: Networks): LinkCheck {
    const out = [...nets.drift];
    if (this.drifted > 0) {
      for (const box of this.containers) {
        const d = this.boxDrift.get(box);
        if (d) out.push(d);
      }
      for (const ep of this.endpoints) {
        const d = this.epDrift.get(ep);
        if (d) out.push(d);
      }
    }
    if (this.mark === undefined) return { drift: out, marked: 0 };
    // The bridges' part of the count, as checkLinks counts it: a bridge named twice, or also an endpoint's host side, says nothing.
    const seen = new Set<string>();
    let twice = this.twice > 0;
    for (const br of nets.found) {
      if (br.ifalias !== this.mark) continue;
      if (seen.has(br.ifname) || (this.names.get(br.ifname)?.claims ?? 0) > 0) twice = true;
      seen.add(br.ifname);
    }
    return { drift: out, marked: twice ? -1 : this.marked + seen.size };
  }

  private versions(links: HostLinks): void {
    this.linkVersion = links.changes?.version ?? 0;
    this.nsVersion = this.ns.changes.version;
  }

  private addEndpoint(ep: Endpoint): boolean {
    if (this.epDrift.has(ep)) return false;
    push(this.epsByName, ep.hostIfname, ep);
    push(this.epsByNetwork, ep.network, ep);
    this.claim(ep.hostIfname, 1);
    this.setEndpoint(ep);
    return true;
  }

  private removeEndpoint(ep: Endpoint): void {
    if (!this.epDrift.has(ep)) return;
    if (this.epDrift.get(ep)) this.drifted--;
    this.epDrift.delete(ep);
    pull(this.epsByName, ep.hostIfname, ep);
    pull(this.epsByNetwork, ep.network, ep);
    this.claim(ep.hostIfname, -1);
  }

  private recheckEndpoint(ep: Endpoint): void {
    if (this.epDrift.get(ep)) this.drifted--;
    this.setEndpoint(ep);
  }

  private setEndpoint(ep: Endpoint): void {
    const d = endpointDrift(ep, this.links.byName.get(ep.hostIfname), this.bridgeOf.get(ep.network));
    this.epDrift.set(ep, d);
    if (d) this.drifted++;
  }

  private addContainer(box: Container): boolean {
    if (this.boxDrift.has(box)) return false;
    push(this.boxesByPath, box.netns, box);
    this.setContainer(box);
    return true;
  }

  private removeContainer(box: Container): void {
    if (!this.boxDrift.has(box)) return;
    if (this.boxDrift.get(box)) this.drifted--;
    this.boxDrift.delete(box);
    this.volatile.delete(box);
    pull(this.boxesByPath, box.netns, box);
  }

  private recheckContainer(box: Container): void {
    if (this.boxDrift.get(box)) this.drifted--;
    this.setContainer(box);
  }

  private setContainer(box: Container): void {
    const d = containerDrift(box, this.ns);
    this.boxDrift.set(box, d);
    if (d) this.drifted++;
    // Asked after the identity: asking is what keeps a path.
    if (this.ns.kept(box.netns)) this.volatile.delete(box);
    else this.volatile.add(box);
  }

  /** What a name adds to the count: one if claimed and marked, and whether it is claimed twice. */
  private share(c: NameClaim | undefined): [number, number] {
    return c?.marked && c.claims > 0 ? [1, c.claims > 1 ? 1 : 0] : [0, 0];
  }

  private moveCount(name: string, change: (c: NameClaim) => void): void {
    const c = this.names.get(name) ?? { claims: 0, marked: this.isMarked(name) };
    const [m0, t0] = this.share(c);
    change(c);
    const [m1, t1] = this.share(c);
    this.marked += m1 - m0;
    this.twice += t1 - t0;
    if (c.claims > 0) this.names.set(name, c);
    else this.names.delete(name);
  }

  private claim(name: string, by: number): void {
    this.moveCount(name, (c) => {
      c.claims += by;
    });
  }

  private remark(name: string): void {
    if (this.names.has(name))
      this.moveCount(name, (c) => {
        c.marked = this.isMarked(name);
      });
  }

  private isMarked(name: string): boolean {
    return this.mark !== undefined && this.links.byName.get(name)?.ifalias === this.mark;
  }
}

/** How checks were answered: from a memo, or by a whole check (for tests that the memo is used at all). */
export const linkChecks = { kept: 0, whole: 0 };

/** One memo per kept link view (its change log), for as long as the view lives. */
const memos = new WeakMap<Changes, LinkMemo>();

/**
 * checkLinks's answer, from what changed since the last check of the same view when it can be
 * told; a whole check otherwise (a one-shot, a dump, another mark, a state read afresh).
 */
export function checkLinksKept(state: State, links: HostLinks, mark?: string): LinkCheck {
  const changes = links.changes;
  const ns = links.namespaces;
  if (changes === undefined || !isSteady(ns)) return checkLinks(state, links, mark);
  const kept = memos.get(changes);
  if (kept !== undefined && kept.mark === mark) {
    const nets = kept.update(state, links);
    if (nets) {
      linkChecks.kept++;
      return kept.answer(nets);
    }
  }
  linkChecks.whole++;
  const memo = new LinkMemo(links, ns, mark);
  const nets = memo.fill(state);
  if (!nets) {
    memos.delete(changes);
    return checkLinks(state, links, mark);
  }
  memos.set(changes, memo);
  return memo.answer(nets);
}
