/**
 * One convergence: read the desired state, look at the kernel once, and if anything differs repair
 * links and rebuild the table in at most one nft transaction. Nothing is written when nothing differs.
 */
import { renderRuleset } from '../firewall/render.js';
import type { Hooks } from '../hooks/hooks.js';
import type { Host } from '../host.js';
import type { NftDocument } from '../nft/schema.js';
import type { State } from '../topology/state.js';
import { containerPresent, elementRepair, observeAll, observeTable, type Drift } from './drift.js';
import { removeOrphans } from './orphans.js';
import type { Trigger } from './pipeline.js';

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
const TABLE_KINDS = new Set(['table', 'chain', 'set']);

export async function converge(host: Host, hooks: Hooks, reasons: Trigger[]): Promise<ConvergeResult> {
  return host.exclusive(async () => {
    const started = performance.now();
    const state = await host.store.read();
    const absent = new Set<string>();
    for (const c of state.containers) if (!containerPresent(c)) absent.add(c.name);
    const effective = withoutContainers(state, absent);
    // Woken only by changes to the table: the table is all that needs looking at.
    const tableOnly = reasons.length > 0 && reasons.every((r) => r.source === 'nft-monitor');
    const seen = tableOnly ? await observeTable(host, effective) : await observeAll({ ip: host.ip, firewall: host.firewall, owner: host.ownerContext(state) }, effective);
    // A vanished container is expected, not drift to repair: the state keeps it for its return.
    const drift = seen.drift.filter((d) => d.kind !== 'container');
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
    if (repair) document = host.firewall.elementChanges(repair);
    else if (tableDrift) document = renderRuleset(effective);
    hooks.emit('plan', { ...report, links, ...(document ? { document } : {}) });
    // Orphans of an interrupted operation go first: a leftover veth may still hold an address.
    if (seen.orphans && seen.orphans.links.length + seen.orphans.netns.length > 0) await removeOrphans(host, seen.orphans);
    if (seen.orphans) host.intents.clear();
    if (links) await host.ensureLinks(effective);
    if (document && repair) await host.nft.apply(document).catch(() => host.firewall.rebuild(effective));
    else if (document) await host.firewall.rebuild(effective);
    hooks.emit('applied', { ...report, durationMs: performance.now() - started, ...(document ? { document } : {}) });
    return { changed: true, drift, absent: [...absent], ...(document ? { document } : {}) };
  });
}
