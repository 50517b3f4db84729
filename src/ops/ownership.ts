/**
 * Every link nftbridge creates carries a mark, its alias: `nftbridge:` and a tag of the state file
 * that owns it. A link is deleted or repaired only when its mark proves that this state made it,
 * so neither a planted state nor a name collision can make nftbridge delete the host's uplink or a
 * container's own eth0. Links with the mark that the state does not know are orphans of an
 * interrupted operation.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { isNotFound, NftbridgeError } from '../errors.js';
import type { Ip } from '../ip/ip.js';
import type { LinkAddresses } from '../ip/schema.js';

export const MARK_PREFIX = 'nftbridge:';

/** The mark of links made for the state in `stateFile`. */
export const ownerMark = (stateFile: string) =>
  `${MARK_PREFIX}${createHash('sha256').update(resolve(stateFile)).digest('hex').slice(0, 12)}`;

/** The `ip link set NAME alias MARK` line that marks a link just created. */
export const markArgs = (name: string, mark: string) => ['link', 'set', name, 'alias', mark] as const;

/**
 * Deletes those of `names` that carry `mark`; returns the ones left alone because something else
 * made them. `links` is a listing already at hand (one read serves many deletes).
 */
export async function deleteOwnedLinks(
  ip: Ip,
  names: readonly string[],
  mark: string,
  links?: readonly LinkAddresses[],
): Promise<string[]> {
  if (names.length === 0) return [];
  const byName = new Map((links ?? (await ip.addresses())).map((l) => [l.ifname, l]));
  const foreign: string[] = [];
  const failed: unknown[] = [];
  for (const name of names) {
    const link = byName.get(name);
    if (!link) continue;
    if (link.ifalias !== mark) {
      foreign.push(name);
      continue;
    }
    // Each link on its own: one that cannot go does not keep the others.
    try {
      await ip.run(['link', 'del', name]);
    } catch (err) {
      if (!isNotFound(err)) failed.push(err);
    }
  }
  if (failed.length === 1) throw failed[0];
  if (failed.length > 1) throw new NftbridgeError(failed.map((e) => (e instanceof Error ? e.message : String(e))).join('; '));
  return foreign;
}
