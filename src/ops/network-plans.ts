/** Creating and removing a network: its bridge, forwarding, and the table rebuilt for it. */
import { ConflictError, ValidationError } from '../errors.js';
import { parseCidr } from '../topology/cidr.js';
import { checkHostOverlap } from '../topology/host-overlap.js';
import { findNetwork, planNetwork, type CreateNetworkInput } from '../topology/plan.js';
import type { Network, State } from '../topology/state.js';
import type { HostContext, HostPlan } from './context.js';
import { allocateMark } from '../hostfw/marks.js';
import { hostFirewallStep } from './host-firewall-step.js';
import { bridgeStep, forwardingStep, removeLinksStep } from './steps.js';
import { changeStep, rebuildStep } from './store-steps.js';

export async function createNetworkPlan(ctx: HostContext, state: State, input: CreateNetworkInput): Promise<HostPlan<Network>> {
  const net: Network = { ...planNetwork(state, input), ...networkMark(ctx, state) };
  // The host firewall is looked at while the host's addresses are read (see applyPlan).
  const early = ctx.hostFirewall.lookEarly();
  // The host's own addresses and routes, and its links: a subnet the host already reaches, or a
  // bridge name in use, is refused before anything changes. Each read is of what it needs (global
  // addresses, one name), not of every link: a host of 1,000 endpoints costs what an empty one does.
  // Routes of the new network's families only: every veth has an IPv6 link-local route, so the
  // IPv6 table grows with the endpoints.
  const families = new Set(net.subnets.map((s) => parseCidr('subnet', s.cidr).family));
  const [links, routes4, routes6, taken] = await Promise.all([
    ctx.ip.globalAddresses(),
    families.has(4) ? ctx.ip.routes(4) : [],
    families.has(6) ? ctx.ip.routes(6) : [],
    // Adding the bridge fails on a name in use anyway: no need to confirm a "no such link".
    ctx.ip.link(net.bridge, false),
  ]);
  checkHostOverlap(net, links, [...routes4, ...routes6]);
  if (taken) throw new ConflictError('bridge', `an interface named ${net.bridge} already exists`);
  const next: State = { ...state, networks: [...state.networks, net] };
  return {
    steps: [
      bridgeStep(ctx.runner, ctx.ip, net, ctx.mark),
      forwardingStep(ctx.runner, ctx.netns, families),
      rebuildStep(ctx.firewall, state, next),
      hostFirewallStep(ctx, next, state, early),
      changeStep(ctx.store, state, next, { networks: { add: [net] } }),
    ],
    result: () => net,
    creates: { links: [net.bridge] },
  };
}

export function removeNetworkPlan(ctx: HostContext, state: State, name: string): HostPlan<Network> {
  const net = findNetwork(state, name);
  const users = state.endpoints.filter((e) => e.network === name).map((e) => e.container);
  if (users.length > 0) throw new ValidationError('network', `network "${name}" still has containers connected: ${users.join(', ')}`);
  const next: State = { ...state, networks: state.networks.filter((n) => n !== net) };
  return {
    steps: [
      rebuildStep(ctx.firewall, state, next),
      hostFirewallStep(ctx, next, state, ctx.hostFirewall.lookEarly()),
      removeLinksStep(ctx.ip, [net.bridge], 'bridge', ctx.mark),
      changeStep(ctx.store, state, next, { networks: { remove: [net] } }),
    ],
    result: () => net,
  };
}

/** The new network's number within the mark mask; with the integration off, a full mask is no error (nothing is marked). */
function networkMark(ctx: HostContext, state: State): { mark?: number } {
  try {
    return { mark: allocateMark(state, ctx.hostFirewall.options.mask) };
  } catch (err) {
    if (ctx.hostFirewall.enabled) throw err;
    return {};
  }
}
