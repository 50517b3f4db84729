/**
 * The host's links as nftbridge wants them: one read of links (with their addresses) and routes,
 * the differences from the desired state, and their repair. Observation and repair share the read
 * and the keys, so they never disagree about what is missing.
 */
import { Ip } from '../ip/ip.js';
import { containerPresent, forbiddenNamespaces, kernelNamespaces, type NamespaceProbe } from '../ip/netns.js';
import type { LinkAddresses } from '../ip/schema.js';
import type { HostContext } from '../ops/context.js';
import { bridgePortArgs, bridgeStep, containerStep, forwardingStep, netnsStep, vethStep } from '../ops/steps.js';
import { parseCidr } from '../topology/cidr.js';
import { findNetwork } from '../topology/plan.js';
import type { Changes } from '../ip/change-log.js';
import type { Container, Endpoint, Network, State } from '../topology/state.js';
import type { Drift } from './drift.js';

export interface HostLinks {
  readonly all: readonly LinkAddresses[];
  readonly byName: ReadonlyMap<string, LinkAddresses>;
  /** "DST DEV" of every route, as the kernel lists them. */
  routes: Set<string>;
  /** Namespace paths as of this read (Ip.steadyNamespaces). */
  namespaces: NamespaceProbe;
  /** How many links carry each alias: the owner's mark counts its links (orphans.ts). */
  readonly aliases: ReadonlyMap<string, number>;
  /** A view kept by notices: which link names changed since a version (LinkSnapshot.changes). */
  readonly changes?: Changes;
}

const routeKey = (dst: string, dev: string) => `${dst} ${dev}`;

/** One look at links (with their addresses) and routes, whatever the number of networks. */
export async function readHostLinks(ip: Ip, state: State, probe: NamespaceProbe = kernelNamespaces): Promise<HostLinks> {
  const v6 = state.networks.some((n) => n.subnets.some((x) => x.cidr.includes(':')));
  const [snapshot, routes4, routes6] = await Promise.all([
    ip.linkSnapshot(),
    state.networks.length > 0 ? ip.routes(4) : [],
    v6 ? ip.routes(6) : [],
  ]);
  const routes = new Set<string>();
  for (const r of routes4) routes.add(routeKey(r.dst, r.dev ?? ''));
  for (const r of routes6) routes.add(routeKey(r.dst, r.dev ?? ''));
  return {
    get all() {
      return snapshot.all;
    },
    byName: snapshot.byName,
    aliases: snapshot.aliases,
    routes,
    namespaces: ip.steadyNamespaces(probe),
    ...(snapshot.changes ? { changes: snapshot.changes } : {}),
  };
}

export interface LinkCheck {
  drift: Drift[];
  /**
   * Links named by the state (its bridges, its endpoints' host sides) found carrying `mark`; -1
   * when the state names a link twice (then nothing is concluded from it).
   */
  marked: number;
}

/** The networks' part of the check: bridges, gateway addresses and subnet routes; each network's bridge by name. */
export function checkNetworks(
  networks: readonly Network[],
  links: Pick<HostLinks, 'byName' | 'routes'>,
): { drift: Drift[]; bridgeOf: Map<string, string>; found: LinkAddresses[] } {
  const drift: Drift[] = [];
  const found: LinkAddresses[] = [];
  const bridgeOf = new Map<string, string>();
  for (const net of networks) {
    bridgeOf.set(net.name, net.bridge);
    const br = links.byName.get(net.bridge);
    if (!br) {
      drift.push({ kind: 'bridge', subject: net.bridge, reason: `bridge of network "${net.name}" is missing` });
      continue;
    }
    found.push(br);
    if (!br.flags.includes('UP')) drift.push({ kind: 'bridge', subject: net.bridge, reason: 'bridge is down' });
    const have = new Set(br.addr_info.map((i) => i.local));
    for (const s of net.subnets) {
      if (!have.has(s.gateway)) drift.push({ kind: 'address', subject: net.bridge, reason: `gateway ${s.gateway} is missing` });
      // The subnet route comes with the address; it is only missing when somebody removed it.
      else if (!links.routes.has(routeKey(s.cidr, net.bridge)))
        drift.push({ kind: 'route', subject: net.bridge, reason: `route to ${s.cidr} is missing` });
    }
  }
  return { drift, bridgeOf, found };
}

/** A container whose namespace is gone or is another one now. */
export const containerDrift = (box: Container, probe: NamespaceProbe): Drift | undefined =>
  containerPresent(box, probe)
    ? undefined
    : { kind: 'container', subject: box.name, reason: `namespace ${box.netns} is gone (or is another namespace now)` };

/** An endpoint whose host side is missing or not on its network's bridge. */
export function endpointDrift(ep: Endpoint, link: LinkAddresses | undefined, bridge: string | undefined): Drift | undefined {
  if (link !== undefined && link.master === bridge) return undefined;
  const subject = `${ep.network}/${ep.container}`;
  if (!link) return { kind: 'endpoint', subject, reason: `host interface ${ep.hostIfname} is missing` };
  return { kind: 'endpoint', subject, reason: `${ep.hostIfname} is not attached to ${bridge}` };
}

/**
 * Bridges, gateway addresses, subnet routes, endpoints and container namespaces that differ;
 * counting on the way the state's links that carry the owner's mark: when they are as
 * many as the links that carry it, no link of ours is an orphan, and orphans.ts need not walk
 * every link again. This walks the whole state; link-memo.ts redoes only what changed.
 */
export function checkLinks(state: State, links: HostLinks, mark?: string, probe: NamespaceProbe = links.namespaces): LinkCheck {
  let marked = 0;
  // Each marked link is counted once: a state naming one link twice (two networks one bridge, an
  // endpoint's host side a bridge's name) makes the count say nothing (-1) rather than hide an orphan.
  const counted = mark === undefined ? undefined : new Set<LinkAddresses>();
  const count = (link: LinkAddresses) => {
    if (counted === undefined || link.ifalias !== mark) return;
    if (counted.has(link)) marked = Number.NaN;
    counted.add(link);
    marked++;
  };
  const nets = checkNetworks(state.networks, links);
  for (const br of nets.found) count(br);
  const out = nets.drift;
  for (const box of state.containers) {
    const d = containerDrift(box, probe);
    if (d) out.push(d);
  }
  for (const ep of state.endpoints) {
    const link = links.byName.get(ep.hostIfname);
    if (link !== undefined) count(link);
    const d = endpointDrift(ep, link, nets.bridgeOf.get(ep.network));
    if (d) out.push(d);
  }
  return { drift: out, marked: Number.isNaN(marked) ? -1 : marked };
}

/**
 * Bridges and endpoints that are missing are recreated; what exists is left alone.
 * `recreateNamespaces` (apply): a namespace nftbridge created and the state still has, but that
 * is gone (an interrupted down or disconnect), is made again. The controller leaves it gone: a
 * vanished container is expected there, and its ports wait for it.
 */
export async function ensureLinks(
  ctx: HostContext,
  state: State,
  options: { recreateNamespaces?: boolean; links?: HostLinks } = {},
): Promise<void> {
  if (options.recreateNamespaces)
    for (const box of state.containers)
      if (box.created && ctx.namespaces.identity(box.netns) === undefined) await netnsStep(ctx.nsIp, box, ctx.namespaces).run();
  const links = options.links ?? (await readHostLinks(ctx.ip, state, ctx.namespaces));
  const families = new Set<4 | 6>();
  for (const net of state.networks) {
    const bridge = links.byName.get(net.bridge);
    if (!bridge) await bridgeStep(ctx.runner, ctx.ip, net, ctx.mark).run();
    else await ensureBridgeAddresses(ctx.ip, net, bridge, links.routes);
    for (const x of net.subnets) families.add(parseCidr('subnet', x.cidr).family);
  }
  if (families.size > 0) await forwardingStep(ctx.runner, ctx.netns, families).run();
  // A path that names the host's (or our own) namespace now is never acted in.
  const forbidden = forbiddenNamespaces(ctx.netns, ctx.namespaces);
  for (const ep of state.endpoints) {
    const net = findNetwork(state, ep.network);
    const box = state.containers.find((c) => c.name === ep.container);
    const link = links.byName.get(ep.hostIfname);
    if (link) {
      if (link.master !== net.bridge || !link.flags.includes('UP'))
        await ctx.ip.batch([['link', 'set', 'dev', ep.hostIfname, 'master', net.bridge, 'up'], bridgePortArgs(net, ep.hostIfname)]);
      continue;
    }
    // The container is gone, or its path names another namespace now: nothing is done there
    // (the controller drops its ports until it returns).
    if (!box || !containerPresent(box, ctx.namespaces) || forbidden.has(ctx.namespaces.identity(box.netns) ?? '')) continue;
    const cip = new Ip(ctx.runner, box.netns);
    // A leftover of ours inside (its veth peer lost) is replaced; an interface of the container's own is never touched.
    const inside = await cip.links().catch(() => []);
    if (inside.some((l) => l.ifname === ep.ifname && l.ifalias === ctx.mark))
      await cip.run(['link', 'del', 'dev', ep.ifname]).catch(() => undefined);
    await vethStep(ctx.ip, net, ep, box.netns, ctx.mark).run();
    const hasRoute = state.endpoints.some((e) => e !== ep && e.container === ep.container && !findNetwork(state, e.network).internal);
    await containerStep(cip, net, ep, !net.internal && !hasRoute, ctx.mark).run();
  }
}

/** Gateway addresses, the subnet routes that come with them, and the link state, on an existing bridge. */
async function ensureBridgeAddresses(ip: Ip, net: Network, bridge: LinkAddresses, routes: ReadonlySet<string>): Promise<void> {
  const have = new Set(bridge.addr_info.map((i) => i.local));
  for (const s of net.subnets) {
    const c = parseCidr('subnet', s.cidr);
    if (!have.has(s.gateway))
      await ip.run(['addr', 'add', `${s.gateway}/${c.prefix}`, 'dev', net.bridge, ...(c.family === 6 ? ['nodad'] : [])]);
    else if (!routes.has(routeKey(s.cidr, net.bridge))) {
      const how = c.family === 4 ? ['scope', 'link', 'src', s.gateway] : ['metric', '256'];
      await ip.run([...(c.family === 6 ? ['-6'] : []), 'route', 'replace', s.cidr, 'dev', net.bridge, 'proto', 'kernel', ...how]);
    }
  }
  if (!bridge.flags.includes('UP')) await ip.run(['link', 'set', 'dev', net.bridge, 'up']);
}
