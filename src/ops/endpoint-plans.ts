/** Connecting a container to a network and disconnecting it: plans built from the state, then steps. */
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { Ip } from '../ip/ip.js';
import { checkContainerNamespace, containerPresent } from '../ip/netns.js';
import {
  checkContainerName,
  findEndpoint,
  findNetwork,
  netnsPath,
  newHostIfname,
  planEndpoint,
  type ConnectInput,
} from '../topology/plan.js';
import { endpointsOf, endpointsWith, endpointsWithout } from '../topology/endpoint-index.js';
import type { Container, Endpoint, Network, State } from '../topology/state.js';
import { portsWithoutSame } from '../topology/port-index.js';
import { withoutPorts } from '../topology/store.js';
import type { HostContext, HostPlan } from './context.js';
import type { Step } from './operation.js';
import { portsFirewallStep } from './port-plans.js';
import { containerStep, netnsStep, removeLinksStep, removeNetnsStep, sourcesStep, vethStep } from './steps.js';
import { changeStep } from './store-steps.js';

/** One connect planned against a state: the endpoint, its container, and the state after it. */
export interface PlannedConnect {
  net: Network;
  ep: Endpoint;
  box: Container;
  /** The container was in the state already (connected to another network). */
  known: boolean;
  /** It gets the default route through this network. */
  defaultRoute: boolean;
  next: State;
}

/**
 * The addresses in use on a bridge's segment that the state does not know: the bridge's own, and
 * any the host has seen answer there (a machine attached to the bridge by someone else).
 */
export async function segmentAddresses(ctx: HostContext, bridge: string): Promise<string[]> {
  const [link, seen] = await Promise.all([ctx.ip.link(bridge), ctx.ip.neighbours(bridge).catch(() => [])]);
  return [...(link?.addr_info.map((a) => a.local) ?? []), ...seen];
}

export async function planConnect(
  ctx: HostContext,
  state: State,
  network: string,
  container: string,
  input: ConnectInput,
  /** A group plans many connects against one look at each segment (ops/connect-group.ts). */
  segment: (bridge: string) => Promise<string[]> = (bridge) => segmentAddresses(ctx, bridge),
): Promise<PlannedConnect> {
  const net = findNetwork(state, network);
  checkContainerName('container', container);
  const known = state.containers.find((c) => c.name === container);
  // A path (given, or as the name) names a namespace somebody else made; a plain name is nftbridge's own.
  const byPath = input.netns !== undefined || container.includes('/');
  if (input.netns !== undefined && !input.netns.startsWith('/'))
    throw new ValidationError('netns', `namespace path "${input.netns}" must be absolute`);
  const path = input.netns ?? netnsPath(container);
  if (known && input.netns !== undefined && known.netns !== input.netns)
    throw new ConflictError('netns', `"${container}" is connected with namespace ${known.netns}, not ${input.netns}`);
  const exists = ctx.namespaces.identity(path) !== undefined;
  if (!known && byPath && !exists)
    throw new NotFoundError(input.netns !== undefined ? 'netns' : 'container', `namespace path ${path} does not exist`);
  // Never the host's, the caller's own or PID 1's namespace, nor a file that is no namespace.
  const nsid = exists ? checkContainerNamespace('container', path, ctx.netns, ctx.namespaces) : undefined;
  if (known && !containerPresent(known, ctx.namespaces))
    throw new ConflictError(
      'container',
      `${path} is not the namespace "${container}" was connected with (it is gone or was replaced); disconnect it first`,
    );
  // IPAM never hands out an address in use on the segment, known to the state or not.
  const ep = planEndpoint(state, network, container, input, newHostIfname(state), await segment(net.bridge));
  // A path is pinned to the namespace it names now; a name is the container's identity itself
  // (a namespace re-created under that name is the container coming back).
  const pinned = byPath && nsid ? { nsid } : {};
  const box: Container = known ?? { name: container, netns: path, created: !byPath && !exists, ...pinned };
  // The first network with egress gives the default route, as Docker's first network does.
  const hasRoute = endpointsOf(state.endpoints, container).some((e) => !findNetwork(state, e.network).internal);
  const next: State = {
    ...state,
    containers: known ? state.containers : [...state.containers, box],
    endpoints: endpointsWith(state.endpoints, ep),
  };
  return { net, ep, box, known: known !== undefined, defaultRoute: !net.internal && !hasRoute, next };
}

export async function connectPlan(
  ctx: HostContext,
  state: State,
  network: string,
  container: string,
  input: ConnectInput,
): Promise<HostPlan<Endpoint>> {
  return connectSteps(ctx, state, await planConnect(ctx, state, network, container, input));
}

/** The steps of one planned connect. */
export function connectSteps(ctx: HostContext, state: State, planned: PlannedConnect): HostPlan<Endpoint> {
  const { net, ep, box, known, defaultRoute, next } = planned;
  const steps: Step[] = [];
  if (!known) steps.push(netnsStep(ctx.nsIp, box, ctx.namespaces));
  // Its addresses are allowed through its port before the port exists: never a moment unchecked.
  steps.push(sourcesStep(ctx.firewall, 'add', [ep], next, state));
  steps.push(vethStep(ctx.ip, net, ep, box.netns, ctx.mark));
  steps.push(containerStep(new Ip(ctx.runner, box.netns), net, ep, defaultRoute, ctx.mark));
  steps.push(changeStep(ctx.store, state, next, { containers: { add: known ? [] : [box] }, endpoints: { add: [ep] } }));
  return { steps, result: () => ep, creates: { links: [ep.hostIfname], netns: box.created && !known ? [box.name] : [] } };
}

export function disconnectPlan(ctx: HostContext, state: State, network: string, container: string): HostPlan<Endpoint> {
  findNetwork(state, network);
  const ep = findEndpoint(state, network, container);
  const ports = state.ports.filter((p) => p.network === network && p.container === container);
  // Asked of the list before endpointsWithout moves its index to the next one.
  const stillUsed = endpointsOf(state.endpoints, container).length > 1;
  const endpoints = endpointsWithout(state.endpoints, ep);
  const box = state.containers.find((c) => c.name === container);
  const next: State = {
    ...state,
    endpoints,
    // The same list when the container published nothing, else the port index moved along
    // (topology/port-index.ts): either way the next publish finds its index made.
    ports: ports.length === 0 ? state.ports : (portsWithoutSame(state.ports, ports) ?? withoutPorts(state.ports, ports)),
    containers: stillUsed ? state.containers : state.containers.filter((c) => c.name !== container),
  };
  const steps: Step[] = [];
  // The tables between the two firewall steps: ports gone, sources still there.
  const mid = ports.length > 0 ? {} : state;
  if (ports.length > 0) steps.push(portsFirewallStep(ctx, 'remove', ports, state, next, { before: state, after: mid }));
  // The port goes before its sources: never a moment unchecked.
  steps.push(removeLinksStep(ctx.ip, [ep.hostIfname], 'veth', ctx.mark));
  steps.push(sourcesStep(ctx.firewall, 'remove', [ep], state, next, { before: mid, after: next }));
  steps.push(forgetNeighboursStep(ctx, findNetwork(state, network).bridge, ep.addresses));
  if (!stillUsed && box?.created) steps.push(removeNetnsStep(ctx.nsIp, box));
  steps.push(
    changeStep(ctx.store, state, next, {
      ports: { remove: ports },
      endpoints: { remove: [ep] },
      containers: { remove: stillUsed || !box ? [] : [box] },
    }),
  );
  return { steps, result: () => ep };
}

/**
 * The host's neighbour entries for a departed endpoint's addresses go with it: IPAM counts the
 * addresses seen on the segment as taken, and these must be free again at once (as Docker reuses
 * them). Best effort: an entry that is not there is fine.
 */
function forgetNeighboursStep(ctx: HostContext, bridge: string, addresses: readonly string[]): Step {
  return {
    name: 'neighbours',
    detail: addresses.join(' '),
    run: async () => {
      // Only entries that exist: a failed line costs a fresh ip session.
      const present = new Set(await ctx.ip.neighbours(bridge).catch(() => []));
      for (const a of addresses) if (present.has(a)) await ctx.ip.run(['neigh', 'del', a, 'dev', bridge]).catch(() => undefined);
    },
  };
}
