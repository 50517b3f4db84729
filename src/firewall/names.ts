/** Names of the one owned table and of the objects in it; chains are static, data lives in maps. */
export const TABLE = 'nftbridge';
export const FAMILY = 'inet' as const;

export const SET_BRIDGES = 'bridges';
export const SET_GATEWAYS = { 4: 'gateways4', 6: 'gateways6' } as const;
export const MAP_ADDR = { 4: 'pub4_addr', 6: 'pub6_addr' } as const;
export const MAP_PORT = { 4: 'pub4_port', 6: 'pub6_port' } as const;

export const CHAIN = {
  prerouting: 'prerouting',
  output: 'output',
  postrouting: 'postrouting',
  forward: 'forward',
  input: 'input',
  rawPrerouting: 'raw_prerouting',
} as const;
