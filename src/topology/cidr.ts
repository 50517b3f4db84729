/** IPv4/IPv6 addresses and prefixes as bigints, so containment, overlap and allocation are exact. */
import { isIPv4, isIPv6 } from 'node:net';
import { ValidationError } from '../errors.js';

export type IpFamily = 4 | 6;

export interface Cidr {
  family: IpFamily;
  /** The network address (host bits cleared). */
  network: bigint;
  prefix: number;
  /** As written by the user, normalised: "172.18.0.0/24". */
  text: string;
}

const bits = (family: IpFamily) => (family === 4 ? 32 : 128);

export function ipFamily(addr: string): IpFamily | undefined {
  return isIPv4(addr) ? 4 : isIPv6(addr) ? 6 : undefined;
}

export function parseIp(field: string, addr: string): { family: IpFamily; value: bigint } {
  const family = ipFamily(addr);
  if (!family) throw new ValidationError(field, `"${addr}" is not an IP address`);
  return { family, value: family === 4 ? v4ToBig(addr) : v6ToBig(addr) };
}

function v4ToBig(addr: string): bigint {
  return addr.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function v6ToBig(addr: string): bigint {
  let text = addr;
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4tail?.[1]) {
    const v = v4ToBig(v4tail[1]);
    text = `${text.slice(0, -v4tail[1].length)}${(v >> 16n).toString(16)}:${(v & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export function formatIp(family: IpFamily, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups, as RFC 5952 asks.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Canonical text of an address (lower case, compressed), so equal addresses compare equal. */
export function normalizeIp(field: string, addr: string): string {
  const { family, value } = parseIp(field, addr);
  return formatIp(family, value);
}

/** The network an address with prefix belongs to: "10.88.0.7/16" -> "10.88.0.0/16" (a delegated IPAM's answer). */
export function networkOfAddress(field: string, text: string): string {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m?.[1] || !m[2]) throw new ValidationError(field, `"${text}" is not an address with a prefix`);
  const { family, value } = parseIp(field, m[1]);
  const prefix = Number(m[2]);
  if (prefix > bits(family)) throw new ValidationError(field, `prefix /${prefix} is longer than ${bits(family)} bits`);
  return `${formatIp(family, value & mask(family, prefix))}/${prefix}`;
}

export function parseCidr(field: string, text: string): Cidr {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m?.[1] || !m[2]) throw new ValidationError(field, `"${text}" is not a CIDR (expected ADDRESS/PREFIX)`);
  const { family, value } = parseIp(field, m[1]);
  const prefix = Number(m[2]);
  if (prefix > bits(family)) throw new ValidationError(field, `prefix /${prefix} is longer than ${bits(family)} bits`);
  const network = value & mask(family, prefix);
  if (network !== value)
    throw new ValidationError(field, `"${text}" has host bits set (did you mean ${formatIp(family, network)}/${prefix}?)`);
  return { family, network, prefix, text: `${formatIp(family, network)}/${prefix}` };
}

function mask(family: IpFamily, prefix: number): bigint {
  const total = BigInt(bits(family));
  return ((1n << total) - 1n) ^ ((1n << (total - BigInt(prefix))) - 1n);
}

export function size(c: Cidr): bigint {
  return 1n << BigInt(bits(c.family) - c.prefix);
}

export function contains(c: Cidr, family: IpFamily, value: bigint): boolean {
  return c.family === family && value >= c.network && value < c.network + size(c);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.network < b.network + size(b) && b.network < a.network + size(a);
}

/** Usable host addresses: IPv4 excludes network and broadcast; IPv6 excludes the subnet-router anycast. */
export function hostRange(c: Cidr): { first: bigint; last: bigint } {
  const end = c.network + size(c) - 1n;
  return c.family === 4 ? { first: c.network + 1n, last: end - 1n } : { first: c.network + 1n, last: end };
}

/**
 * Ranges no container network may use: the kernel treats them specially (loopback, multicast,
 * link-local, unspecified) or they are reserved or IPv4-mapped, so a bridge there breaks the host
 * or never works.
 */
const SPECIAL: readonly [string, string][] = [
  ['0.0.0.0/8', 'is "this network" (0.0.0.0/8)'],
  ['127.0.0.0/8', 'is loopback'],
  ['169.254.0.0/16', 'is link-local'],
  ['224.0.0.0/4', 'is multicast'],
  ['240.0.0.0/4', 'is reserved (240.0.0.0/4, with the broadcast address)'],
  ['::/128', 'is the unspecified address'],
  ['::1/128', 'is loopback'],
  ['::ffff:0:0/96', 'is IPv4-mapped'],
  ['fe80::/10', 'is link-local'],
  ['ff00::/8', 'is multicast'],
];
const specialRanges = SPECIAL.map(([text, why]) => [parseCidr('subnet', text), why] as const);

/** Why `c` cannot be a container subnet, or undefined when it can. */
export function specialUse(c: Cidr): string | undefined {
  if (c.prefix === 0) return 'covers every address';
  for (const [range, why] of specialRanges) if (overlaps(c, range)) return `${why} (overlaps ${range.text})`;
  return undefined;
}
