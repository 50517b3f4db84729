/** Publishing and unpublishing ports: map elements in one transaction, and one journal line. */
import { forgetStaleFlows } from '../ip/conntrack.js';
import { portsWith, portsWithoutSame } from '../topology/port-index.js';
import { planPublish, planUnpublish } from '../topology/port-plan.js';
import { describePort, parseUnpublishSpec } from '../topology/publish-spec.js';
import type { PublishedPort, State } from '../topology/state.js';
import { withoutPorts } from '../topology/store.js';
import type { HostContext, HostPlan } from './context.js';
import type { Step } from './operation.js';
import { portsStep } from './store-steps.js';

/**
 * The map elements of `ports` added to (or removed from) the table, undone the other way.
 * `withPorts` is the state that holds them (their elements are named from it), `without` the one
 * that does not; on an unexpected table the firewall rebuilds for the state that is to be.
 */
export function portsFirewallStep(
  ctx: HostContext,
  how: 'add' | 'remove',
  ports: PublishedPort[],
  withPorts: State,
  without: State,
  /** What the tables hold before and after, when not `without`/`withPorts` (a step of several). */
  tokens: { before: object; after: object } = how === 'add' ? { before: without, after: withPorts } : { before: withPorts, after: without },
): Step {
  const add = async () => {
    const [from, to] = how === 'add' ? [tokens.before, tokens.after] : [tokens.after, tokens.before];
    await ctx.firewall.addPorts(withPorts, ports, { from, to });
    // A UDP flow that started before its port was published would never see the DNAT.
    await forgetStaleFlows(ctx.runner, ctx.netns, ports);
  };
  const remove = async () => {
    const [from, to] = how === 'remove' ? [tokens.before, tokens.after] : [tokens.after, tokens.before];
    await ctx.firewall.removePorts(withPorts, ports, without, { from, to });
  };
  return {
    name: 'firewall',
    detail: ports.map(describePort).join(', '),
    run: how === 'add' ? add : remove,
    undo: how === 'add' ? remove : add,
  };
}

export function publishPlan(
  ctx: HostContext,
  state: State,
  network: string,
  container: string,
  specs: readonly string[],
): HostPlan<PublishedPort[]> {
  const ports = planPublish(state, network, container, specs);
  const next: State = { ...state, ports: portsWith(state.ports, ports) };
  return { steps: [portsFirewallStep(ctx, 'add', ports, next, state), portsStep(ctx.store, state, next, ports, [])], result: () => ports };
}

export function unpublishPlan(
  ctx: HostContext,
  state: State,
  network: string,
  container: string,
  specs: readonly string[],
): HostPlan<PublishedPort[]> {
  const ports = planUnpublish(
    state,
    network,
    container,
    specs.map((s) => parseUnpublishSpec(s, 'spec')),
  );
  const next: State = { ...state, ports: portsWithoutSame(state.ports, ports) ?? withoutPorts(state.ports, ports) };
  return {
    steps: [portsFirewallStep(ctx, 'remove', ports, state, next), portsStep(ctx.store, state, next, [], ports)],
    result: () => ports,
  };
}
