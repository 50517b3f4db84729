/** Names of the one owned table and of the objects in it; chains are static, data lives in maps. */
export const TABLE = 'nftbridge';
export const FAMILY = 'inet' as const;

export const SET_BRIDGES = 'bridges';
export const SET_GATEWAYS = { 4: 'gateways4', 6: 'gateways6' } as const;
/**
 * Published ports, per family, in three pairs of maps (address map, port map; nft 1.0.6 cannot
 * map to "address . port"): single ports on every address (hash, key proto . port), single ports
 * on one address (hash, key addr . proto . port), and port ranges (interval, key addr . proto . port).
 * Hash maps keep rebuilds and lookups fast; only ranges pay for intervals.
 */
export type PortMapKind = 'any' | 'ip' | 'range';
export const PORT_MAP_KINDS: readonly PortMapKind[] = ['ip', 'range', 'any']; // lookup order: most specific first
export const portMapName = (fam: 4 | 6, kind: PortMapKind, part: 'addr' | 'port') => `pub${fam}_${kind}_${part}`;

export const CHAIN = {
  prerouting: 'prerouting',
  output: 'output',
  postrouting: 'postrouting',
  forward: 'forward',
  input: 'input',
  rawPrerouting: 'raw_prerouting',
} as const;
