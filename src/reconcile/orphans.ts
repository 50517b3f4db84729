/**
 * Orphans: what an interrupted operation (a kill -9 midway) made that the desired state does not
 * know. Links carry nftbridge's mark (ops/ownership.ts); links and namespaces created in the
 * window before the mark was set are named by the interrupted operation's intent
 * (topology/intent.ts). `status` reports them as drift; `apply`, `watch` and `down` remove them.
 */
import { isNotFound } from '../errors.js';
import type { Ip } from '../ip/ip.js';
import { kernelNamespaces, type NamespaceProbe } from '../ip/netns.js';
import type { LinkAddresses } from '../ip/schema.js';
import type { Intent } from '../topology/intent.js';
import type { State } from '../topology/state.js';

export interface Orphans {
  links: string[];
  netns: string[];
}

export function findOrphans(
  state: State,
  links: readonly LinkAddresses[],
  mark: string,
  intent: Intent | undefined,
  probe: NamespaceProbe = kernelNamespaces,
): Orphans {
  const known = new Set([...state.networks.map((n) => n.bridge), ...state.endpoints.map((e) => e.hostIfname)]);
  // Named by the intent and not marked yet: created in the instant before the mark was set.
  const pending = new Set(intent?.links ?? []);
  const orphanLinks = links
    .filter((l) => !known.has(l.ifname) && (l.ifalias === mark || (pending.has(l.ifname) && !l.ifalias)))
    .map((l) => l.ifname);
  const ours = new Set(state.containers.filter((c) => c.created).map((c) => c.name));
  const netns = (intent?.netns ?? []).filter((n) => !ours.has(n) && probe.identity(`/run/netns/${n}`) !== undefined);
  return { links: orphanLinks.sort(), netns };
}

/** Removes orphans: links first (a veth takes its container side and addresses along), then namespaces. */
export async function removeOrphans(ctx: { ip: Ip; nsIp: Ip }, o: Orphans): Promise<void> {
  const gone = async (p: Promise<void>) => {
    try {
      await p;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  };
  for (const name of o.links) await gone(ctx.ip.run(['link', 'del', 'dev', name]));
  for (const name of o.netns) await gone(ctx.nsIp.run(['netns', 'del', name]));
}
