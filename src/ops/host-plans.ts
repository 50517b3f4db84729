/** Whole-host operations: apply (converge to the state), down (remove everything), and orphan recovery. */
import { FAMILY, TABLE } from '../firewall/names.js';
import type { NftDocument } from '../nft/schema.js';
import { ensureLinks } from '../reconcile/links.js';
import { elementRepair, repairTransition, TABLE_KINDS } from '../reconcile/drift.js';
import { observeAll, type Observation } from '../reconcile/observe.js';
import { findOrphans, removeOrphans, type Orphans } from '../reconcile/orphans.js';
import { parseCidr } from '../topology/cidr.js';
import type { Intent } from '../topology/intent.js';
import { emptyState, type State } from '../topology/state.js';
import { ownerOf, type HostContext, type HostPlan } from './context.js';
import type { Step } from './operation.js';
import { markArgs } from './ownership.js';
import { hostFirewallStep } from './host-firewall-step.js';
import { forwardingStep, removeLinksStep, removeNetnsStep } from './steps.js';
import { saveStep } from './store-steps.js';

/** Removes what an interrupted operation left (an intent file exists only when its writer died). */
export async function recoverInterrupted(ctx: HostContext, state: State): Promise<void> {
  const intent = ctx.intents.read();
  if (intent) await clearOrphans(ctx, state, intent);
}

/** Finds and removes orphans, then forgets the intent; returns the names removed. */
async function clearOrphans(ctx: HostContext, state: State, intent: Intent | undefined, found?: Orphans): Promise<string[]> {
  const orphans = found ?? findOrphans(state, await ctx.ip.addresses(), ctx.mark, intent, ctx.namespaces);
  await removeOrphans(ctx, orphans);
  ctx.intents.clear();
  return [...orphans.links, ...orphans.netns];
}

/**
 * A state from before links were marked: its bridges and veths get the mark once, where the kernel
 * has exactly what the state describes (a bridge of that name; a veth of that name enslaved to its
 * network's bridge). Without it, `down` of an upgraded host would leave every link alone.
 */
export async function markLegacyLinks(ctx: HostContext, state: State): Promise<State> {
  if (state.marked || (state.networks.length === 0 && state.endpoints.length === 0)) return state;
  const links = new Map((await ctx.ip.addresses()).map((l) => [l.ifname, l]));
  const kind = (name: string) => links.get(name)?.linkinfo?.info_kind;
  for (const n of state.networks)
    if (kind(n.bridge) === 'bridge' && !links.get(n.bridge)?.ifalias) await ctx.ip.run(markArgs(n.bridge, ctx.mark));
  for (const ep of state.endpoints) {
    const bridge = state.networks.find((n) => n.name === ep.network)?.bridge;
    const link = links.get(ep.hostIfname);
    if (kind(ep.hostIfname) === 'veth' && link?.master === bridge && !link?.ifalias) await ctx.ip.run(markArgs(ep.hostIfname, ctx.mark));
  }
  const next = { ...state, marked: true };
  await ctx.store.write(next);
  return next;
}

/**
 * Orphans (marked links the state does not know, namespaces of an interrupted connect) removed.
 * `look`: the orphans an observation already found, instead of a read of its own.
 */
export function orphansStep(ctx: HostContext, state: State, look?: () => Promise<Orphans | undefined>): Step {
  const step: Step = {
    name: 'orphans',
    detail: 'none',
    run: async () => {
      const removed = await clearOrphans(ctx, state, ctx.intents.read(), await look?.());
      if (removed.length > 0) step.detail = `removed ${removed.join(' ')}`;
    },
  };
  return step;
}

const NOT_LINKS = new Set([...TABLE_KINDS, 'orphan', 'host-firewall']);

/**
 * Converges the kernel to the desired state; running it twice changes nothing the second time.
 * The kernel is looked at once (tables, links, orphans) and only what differs is changed: with
 * nothing to do, apply costs a look (README "Performance": the "large host" rows), and a table
 * whose elements alone differ gets those elements, not a rebuild of 10,000 ports.
 */
export function applyPlan(ctx: HostContext, state: State): HostPlan<NftDocument> {
  // The host firewall is looked at while the kernel is: its step at the end takes this look.
  const early = ctx.hostFirewall.lookEarly();
  let doc: NftDocument = { nftables: [] };
  let seen: Observation | undefined;
  const observe = async () =>
    (seen ??= await observeAll({ ip: ctx.ip, firewall: ctx.firewall, namespaces: ctx.namespaces, owner: ownerOf(ctx, state) }, state));
  const orphans = orphansStep(ctx, state, async () => {
    const found = (await observe()).orphans;
    // Removing them changes the links: the steps after look again.
    if (found && found.links.length + found.netns.length > 0) seen = undefined;
    return found;
  });
  const links: Step = {
    name: 'links',
    detail: 'bridges and endpoints',
    run: async () => {
      const now = await observe();
      if (now.drift.some((d) => !NOT_LINKS.has(d.kind))) await ensureLinks(ctx, state, { recreateNamespaces: true, links: now.links });
      else {
        // Forwarding is written only when it is off: the write starts a process in the namespace.
        const on = await ctx.ip.forwarding().catch(() => ({ 4: false, 6: false }));
        const off = new Set([...familiesOf(state)].filter((f) => !on[f]));
        if (off.size > 0) await forwardingStep(ctx.runner, ctx.netns, off).run();
      }
    },
  };
  const table: Step = {
    name: 'firewall',
    detail: `tables ${FAMILY} ${TABLE}`,
    run: async () => {
      const now = await observe();
      if (!now.drift.some((d) => TABLE_KINDS.has(d.kind))) return;
      const repair = elementRepair(now.want, now.have);
      if (repair) {
        doc = ctx.firewall.elementChanges(repair);
        await ctx.firewall.nft.apply(doc, repairTransition(now, state));
      } else doc = await ctx.firewall.rebuild(state);
    },
  };
  return { steps: [orphans, links, table, hostFirewallStep(ctx, state, undefined, early)], result: () => doc };
}

const familiesOf = (state: State) => new Set(state.networks.flatMap((n) => n.subnets.map((s) => parseCidr('subnet', s.cidr).family)));

/**
 * Removes everything nftbridge made in this host, best effort: every step runs, and what could not
 * be removed is reported together. The firewall goes first while the links still exist, then
 * endpoints, then bridges (netavark's order); the state is emptied last, so whatever a failed
 * step left is an orphan (marked) that `status` reports and `apply` or `down` removes.
 */
export function downPlan(ctx: HostContext, state: State): HostPlan<State> {
  const steps: Step[] = [
    { name: 'firewall', detail: `delete tables ${TABLE}`, run: () => ctx.firewall.remove() },
    hostFirewallStep(ctx, emptyState()),
    orphansStep(ctx, state),
  ];
  if (state.endpoints.length > 0)
    steps.push(
      removeLinksStep(
        ctx.ip,
        state.endpoints.map((ep) => ep.hostIfname),
        'veths',
        ctx.mark,
      ),
    );
  if (state.networks.length > 0)
    steps.push(
      removeLinksStep(
        ctx.ip,
        state.networks.map((n) => n.bridge),
        'bridges',
        ctx.mark,
      ),
    );
  for (const box of state.containers) if (box.created) steps.push(removeNetnsStep(ctx.nsIp, box));
  steps.push(saveStep(ctx.store, state, emptyState()));
  return { steps, result: () => state, bestEffort: true };
}
