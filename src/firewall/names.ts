/** Names of the one owned table and of the objects in it; chains are static, data lives in maps. */
export const TABLE = 'nftbridge';
export const FAMILY = 'inet' as const;

export const SET_BRIDGES = 'bridges';
export const SET_GATEWAYS = { 4: 'gateways4', 6: 'gateways6' } as const;
/**
 * What each network adds to the rules lives in these sets and verdict maps (and in two chains of
 * its own), never in the base chains' rules: creating or removing a network is a handful of
 * elements, whatever the number of networks (network-rules.ts).
 */
export const NET = {
  /** Internal bridges, and each as a pair with itself: their traffic stays on the bridge. */
  internal: 'internal',
  internalSelf: 'internal_self',
  /** bridge . bridge : goto mark_accept (ICC on) or drop (ICC off). */
  icc: 'icc',
  /** bridge . gateway, per family: the one gateway a container may reach. */
  ownGateway: { 4: 'own_gw4', 6: 'own_gw6' },
  /** subnet : jump post_BRIDGE, per family (non-internal networks): masquerade and hairpin. */
  masquerade: { 4: 'masq4', 6: 'masq6' },
  /** bridge : goto mark_BRIDGE, by input and by output interface. */
  markIn: 'mark_in',
  markOut: 'mark_out',
} as const;
/** The two chains each network has: its masquerade rules and its mark. */
export const netChain = (kind: 'post' | 'mark', bridge: string) => `${kind}_${bridge}`;
/**
 * Published ports, per family, in four pairs of maps (address map, port map; nft 1.0.6 cannot
 * map to "address . port"): single ports on every address, one pair per protocol (hash, key the
 * port alone), single ports on one address (hash, key addr . proto . port), and port ranges
 * (interval, key addr . proto . port). A key of one field instead of a concatenation makes nft
 * load the common maps faster (bench: "full rebuild"); only ranges pay for intervals.
 */
export type PortMapKind = 'tcp' | 'udp' | 'ip' | 'range';
/**
 * Lookup order. Published bindings never overlap (planPublish refuses it, as Docker does), so at
 * most one map matches and the order only decides the cost: the common case (every address,
 * single port, a hash lookup) comes first, the interval maps last.
 */
export const PORT_MAP_KINDS: readonly PortMapKind[] = ['tcp', 'udp', 'ip', 'range'];
export const portMapName = (fam: 4 | 6, kind: PortMapKind, part: 'addr' | 'port') => `pub${fam}_${kind}_${part}`;

export const CHAIN = {
  prerouting: 'prerouting',
  output: 'output',
  postrouting: 'postrouting',
  forward: 'forward',
  input: 'input',
  rawPrerouting: 'raw_prerouting',
  dnat4: 'dnat4',
  dnat6: 'dnat6',
  /** Where every accept of forward and input goes: the packet gets its network's mark. */
  accept: 'mark_accept',
} as const;

/**
 * The anti-spoofing table: a bridge-family table of the same name, since only the bridge family
 * sees which bridge port a frame came in on (the inet hooks see the bridge). Its object names
 * differ from the inet table's, so the two listings merge into one shape for drift.
 */
export const SPOOF_FAMILY = 'bridge' as const;
export const SPOOF = {
  ports: 'spoof_ports',
  src4: 'spoof_src4',
  src6: 'spoof_src6',
  prerouting: 'spoof_prerouting',
  check: 'spoof_check',
} as const;
const SPOOF_SETS: ReadonlySet<string> = new Set([SPOOF.ports, SPOOF.src4, SPOOF.src6]);
/** Which table a set lives in, by its name. */
export const familyOfSet = (set: string) => (SPOOF_SETS.has(set) ? SPOOF_FAMILY : FAMILY);
