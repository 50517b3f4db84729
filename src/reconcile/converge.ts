/**
 * One convergence: read the desired state, look at the kernel once, and if anything differs repair
 * links and rebuild the table in at most one nft transaction. Nothing is written when nothing differs.
 */
import type { Hooks } from '../hooks/hooks.js';
import { containerPresent } from '../ip/netns.js';
import { ownerOf, type HostContext } from '../ops/context.js';
import type { NftDocument } from '../nft/schema.js';
import type { State } from '../topology/state.js';
import { elementRepair, observeTable, repairTransition, TABLE_KINDS, type Drift, type TableObservation } from './drift.js';
import { ensureLinks } from './links.js';
import { observeAll, type Observation } from './observe.js';
import { removeOrphans } from './orphans.js';
import type { Trigger } from './pipeline.js';
import { hostFirewallDrift } from '../hostfw/options.js';

export interface ConvergeResult {
  changed: boolean;
  drift: Drift[];
  document?: NftDocument;
  /** Containers whose namespace is gone: their endpoints and ports are left out until it returns. */
  absent: string[];
}

/** The desired state minus containers whose namespace has vanished. */
export function withoutContainers(state: State, absent: ReadonlySet<string>): State {
  if (absent.size === 0) return state;
  return {
    ...state,
    containers: state.containers.filter((c) => !absent.has(c.name)),
    endpoints: state.endpoints.filter((e) => !absent.has(e.container)),
    ports: state.ports.filter((p) => !absent.has(p.container)),
  };
}

const LINK_KINDS = new Set(['bridge', 'address', 'route', 'endpoint']);
// 'orphan' drift is handled on its own: removed before links are repaired.

export async function converge(ctx: HostContext, hooks: Hooks, reasons: Trigger[]): Promise<ConvergeResult> {
  return ctx.store.exclusive(async () => {
    const started = performance.now();
    const state = await ctx.store.read();
    const absent = new Set<string>();
    // Through the link view's namespace answers when it is current: the echo of a rebuild wakes
    // the watch daemon several times, and 1,000 containers were 1,000 stats each time.
    const namespaces = await ctx.ip.namespacesNow(ctx.namespaces);
    for (const c of state.containers) if (!containerPresent(c, namespaces)) absent.add(c.name);
    const effective = withoutContainers(state, absent);
    // Woken only by changes to the table: the table is all that needs looking at.
    const tableOnly = reasons.length > 0 && reasons.every((r) => r.source === 'nft-monitor');
    const seen: TableObservation & Partial<Observation> = tableOnly
      ? await observeTable(ctx, effective)
      : await observeAll({ ip: ctx.ip, firewall: ctx.firewall, namespaces: ctx.namespaces, owner: ownerOf(ctx, state) }, effective);
    // A host firewall is looked at unless only the owned table changed (the fast repair path).
    const hostFirewall = tableOnly ? undefined : await ctx.hostFirewall.observe(state);
    // A vanished container is expected, not drift to repair: the state keeps it for its return.
    const drift = [...seen.drift.filter((d) => d.kind !== 'container'), ...(hostFirewall ? hostFirewallDrift(hostFirewall) : [])];
    const report = { reasons, drift };
    if (drift.length === 0) {
      hooks.emit('idle', report);
      return { changed: false, drift, absent: [...absent] };
    }
    hooks.emit('drift', report);
    const links = drift.some((d) => LINK_KINDS.has(d.kind));
    const tableDrift = drift.some((d) => TABLE_KINDS.has(d.kind));
    // Only elements differ (a container went away, an element was deleted): change just those.
    const repair = tableDrift ? elementRepair(seen.want, seen.have) : undefined;
    let document: NftDocument | undefined;
    if (repair) document = ctx.firewall.elementChanges(repair);
    else if (tableDrift) document = ctx.firewall.render(effective);
    hooks.emit('plan', { ...report, links, ...(document ? { document } : {}) });
    // Orphans of an interrupted operation go first: a leftover veth may still hold an address.
    if (seen.orphans && seen.orphans.links.length + seen.orphans.netns.length > 0) await removeOrphans(ctx, seen.orphans);
    if (seen.orphans) ctx.intents.clear();
    if (links) await ensureLinks(ctx, effective, seen.links ? { links: seen.links } : {});
    if (document && repair)
      await ctx.firewall.nft.apply(document, repairTransition(seen, effective)).catch(() => ctx.firewall.rebuild(effective));
    else if (document) await ctx.firewall.rebuild(effective);
    // After the table: the rules let through what the table marks.
    if (drift.some((d) => d.kind === 'host-firewall')) await ctx.hostFirewall.sync(state);
    hooks.emit('applied', { ...report, durationMs: performance.now() - started, ...(document ? { document } : {}) });
    return { changed: true, drift, absent: [...absent], ...(document ? { document } : {}) };
  });
}
