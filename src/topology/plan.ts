/**
 * Pure checks and decisions on the desired state, made before any side effect so that bad input
 * never leaves anything half-made.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { contains, formatIp, hostRange, overlaps, parseCidr, parseIp, specialUse, type Cidr } from './cidr.js';
import { IFNAME_RE, type Endpoint, type Network, type State } from './state.js';
import { addressesOn, endpointIndex, endpointOf, endpointsOf, endpointsOn, lowestFree } from './endpoint-index.js';

export interface CreateNetworkInput {
  name: string;
  /** One CIDR, or one per address family. */
  subnet: string | string[];
  gateway?: string | string[];
  bridge?: string;
  internal?: boolean;
  icc?: boolean;
  mtu?: number;
  labels?: Record<string, string>;
}

export interface ConnectInput {
  ip?: string;
  ip6?: string;
  ifname?: string;
  mac?: string;
  /**
   * The container's namespace as a path, when the container's name is an identifier of its own
   * (a CNI container ID): the namespace must exist, and the container is pinned to it.
   */
  netns?: string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Names the kernel or iproute2 take for something else: the sysctl directories conf/all and conf/default, `ip ... help`. */
const RESERVED_IFNAMES = new Set(['.', '..', 'all', 'default', 'help']);

/** A Linux bridge numbers its ports 1..1023 (BR_MAX_PORTS is 1024, port 0 unused). */
export const BRIDGE_MAX_PORTS = 1023;

export function checkIfname(field: string, name: string): string {
  if (name === '') throw new ValidationError(field, 'interface name is empty');
  if (RESERVED_IFNAMES.has(name)) throw new ValidationError(field, `"${name}" is reserved and cannot name an interface`);
  if (name.length > 15) throw new ValidationError(field, `interface name "${name}" is longer than 15 characters`);
  if (!IFNAME_RE.test(name)) throw new ValidationError(field, `interface name "${name}" has characters outside [A-Za-z0-9_.-]`);
  return name;
}

export function checkContainerName(field: string, name: string): string {
  if (name.includes('/')) {
    if (!name.startsWith('/')) throw new ValidationError(field, `namespace path "${name}" must be absolute`);
    return name;
  }
  if (!/^[A-Za-z0-9_.-]{1,255}$/.test(name) || name === '.' || name === '..')
    throw new ValidationError(field, `"${name}" is not a namespace name ([A-Za-z0-9_.-]) or an absolute path`);
  return name;
}

/** A named namespace lives in /run/netns; anything with a slash is already a path. */
export const netnsPath = (nameOrPath: string) => (nameOrPath.includes('/') ? nameOrPath : `/run/netns/${nameOrPath}`);

export function findNetwork(state: State, name: string): Network {
  const net = state.networks.find((n) => n.name === name);
  if (!net) throw new NotFoundError('network', `no network named "${name}"`);
  return net;
}

export function findEndpoint(state: State, network: string, container: string): Endpoint {
  const ep = endpointOf(state.endpoints, network, container);
  if (!ep) throw new NotFoundError('container', `"${container}" is not connected to network "${network}"`);
  return ep;
}

const asList = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Docker-like default bridge name, derived so it is stable and within 15 characters. */
export function defaultBridgeName(network: string): string {
  const direct = `nb-${network}`;
  if (direct.length <= 15 && IFNAME_RE.test(direct)) return direct;
  return `nb-${createHash('sha256').update(network).digest('hex').slice(0, 12)}`;
}

export function planNetwork(state: State, input: CreateNetworkInput): Network {
  if (!NAME_RE.test(input.name))
    throw new ValidationError('name', `"${input.name}" must start with a letter or digit and use [A-Za-z0-9_.-], 64 at most`);
  if (state.networks.some((n) => n.name === input.name)) throw new ConflictError('name', `network "${input.name}" already exists`);
  const subnets = asList(input.subnet);
  if (subnets.length === 0) throw new ValidationError('subnet', 'at least one subnet is required');
  const gateways = asList(input.gateway);
  const cidrs = subnets.map((s) => parseCidr('subnet', s));
  if (new Set(cidrs.map((c) => c.family)).size !== cidrs.length)
    throw new ValidationError('subnet', 'at most one subnet per address family');
  for (const c of cidrs) {
    const why = specialUse(c);
    if (why) throw new ValidationError('subnet', `${c.text} ${why}; containers need a private range such as 172.18.0.0/16 or fd00::/64`);
  }
  const gwFamilies = gateways.map((g) => parseIp('gateway', g).family);
  if (new Set(gwFamilies).size !== gwFamilies.length) throw new ValidationError('gateway', 'at most one gateway per address family');
  const planned = cidrs.map((cidr) => {
    const minHosts = cidr.family === 4 ? 30 : 126;
    // The longest prefix accepted, named as such: /30 (two hosts) for IPv4, /126 for IPv6.
    if (cidr.prefix > minHosts) throw new ValidationError('subnet', `${cidr.text} is too small (/${minHosts} or larger needed)`);
    for (const other of state.networks)
      for (const s of other.subnets)
        if (overlaps(cidr, parseCidr('subnet', s.cidr)))
          throw new ConflictError('subnet', `${cidr.text} overlaps ${s.cidr} of network "${other.name}"`);
    const gwText = gateways.find((g) => parseIp('gateway', g).family === cidr.family);
    const gateway = gwText === undefined ? formatIp(cidr.family, hostRange(cidr).first) : checkInSubnet('gateway', gwText, cidr);
    return { cidr: cidr.text, gateway };
  });
  for (const g of gateways)
    if (!planned.some((p) => parseIp('gateway', p.gateway).family === parseIp('gateway', g).family))
      throw new ValidationError('gateway', `${g} has no subnet of its address family`);
  const bridge = checkIfname('bridge', input.bridge ?? defaultBridgeName(input.name));
  if (state.networks.some((n) => n.bridge === bridge)) throw new ConflictError('bridge', `bridge ${bridge} is used by another network`);
  if (input.mtu !== undefined && (!Number.isInteger(input.mtu) || input.mtu < 68 || input.mtu > 65535))
    throw new ValidationError('mtu', `${input.mtu} is outside 68..65535`);
  if (input.mtu !== undefined && input.mtu < 1280 && cidrs.some((c) => c.family === 6))
    throw new ValidationError('mtu', `${input.mtu} is below 1280, the least IPv6 works with (the network has an IPv6 subnet)`);
  return {
    name: input.name,
    bridge,
    subnets: planned,
    internal: input.internal ?? false,
    icc: input.icc ?? true,
    ...(input.mtu !== undefined ? { mtu: input.mtu } : {}),
    ...(input.labels && Object.keys(input.labels).length > 0 ? { labels: { ...input.labels } } : {}),
    created: new Date().toISOString(),
  };
}

function checkInSubnet(field: string, addr: string, cidr: Cidr): string {
  const { family, value } = parseIp(field, addr);
  const { first, last } = hostRange(cidr);
  if (!contains(cidr, family, value) || value < first || value > last)
    throw new ValidationError(field, `${addr} is not a usable address of ${cidr.text}`);
  return formatIp(family, value);
}

/**
 * The lowest free host address of a subnet: what Docker's IPAM hands out too. The endpoint index
 * keeps where the search can start (endpoint-index.ts lowestFree): on one bridge of 1,000
 * endpoints a walk from the first address cost a connect about a millisecond.
 */
function allocate(state: State, net: Network, cidr: Cidr, gateways: ReadonlySet<string>, seen: ReadonlySet<string>): string {
  const { first, last } = hostRange(cidr);
  const range = { family: cidr.family, first, last, limit: first + 65536n }; // never walk more than this of a huge IPv6 subnet
  const key = `${cidr.text} ${[...gateways].join(',')}`;
  const found = lowestFree(
    state.endpoints,
    net.name,
    key,
    range,
    (a) => gateways.has(a),
    (a) => seen.has(a),
  );
  if (found === undefined) throw new ConflictError('ip', `no free address left in ${cidr.text}`);
  return found;
}

/**
 * `inUse`: addresses seen on the network's segment that the state does not know (the bridge's own,
 * say); IPAM never hands them out.
 */
export function planEndpoint(
  state: State,
  network: string,
  container: string,
  input: ConnectInput,
  hostIfname: string,
  inUse: Iterable<string> = [],
): Endpoint {
  const net = findNetwork(state, network);
  checkContainerName('container', container);
  const onBridge = endpointsOn(state.endpoints, network).size;
  if (onBridge >= BRIDGE_MAX_PORTS)
    throw new ConflictError(
      'network',
      `network "${network}" has ${onBridge} endpoints, the most one Linux bridge takes (${BRIDGE_MAX_PORTS} ports)`,
    );
  if (endpointOf(state.endpoints, network, container))
    throw new ConflictError('container', `"${container}" is already connected to network "${network}"`);
  const ifname = checkIfname('ifname', input.ifname ?? nextIfname(state, container));
  if (endpointsOf(state.endpoints, container).some((e) => e.ifname === ifname))
    throw new ConflictError('ifname', `${ifname} already exists in container "${container}"`);
  if (input.mac !== undefined && !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(input.mac))
    throw new ValidationError('mac', `"${input.mac}" is not a MAC address like 02:42:ac:11:00:02`);
  if (input.mac !== undefined && (parseInt(input.mac.slice(0, 2), 16) & 1) === 1)
    throw new ValidationError('mac', `${input.mac} is a multicast address`);
  if (input.mac !== undefined && /^(00:){5}00$/.test(input.mac)) throw new ValidationError('mac', `${input.mac} is the all-zero address`);
  const held = addressesOn(state.endpoints, network);
  const gateways = new Set(net.subnets.map((s) => s.gateway));
  const seen = new Set(inUse);
  const taken = (a: string) => held.has(a) || gateways.has(a) || seen.has(a);
  const requested: Record<4 | 6, [string, string | undefined]> = { 4: ['ip', input.ip], 6: ['ip6', input.ip6] };
  for (const fam of [4, 6] as const) {
    const [field, value] = requested[fam];
    if (value !== undefined && !net.subnets.some((s) => parseCidr('subnet', s.cidr).family === fam))
      throw new ValidationError(field, `network "${network}" has no IPv${fam} subnet`);
  }
  const addresses = net.subnets.map((s) => {
    const cidr = parseCidr('subnet', s.cidr);
    const [field, wanted] = requested[cidr.family];
    if (wanted === undefined) return allocate(state, net, cidr, gateways, seen);
    const addr = checkInSubnet(field, wanted, cidr);
    if (taken(addr)) throw new ConflictError(field, `${addr} is already in use on network "${network}"`);
    return addr;
  });
  return { network, container, ifname, hostIfname, addresses, mac: input.mac?.toLowerCase() ?? containerMac(addresses) };
}

/**
 * The container interface's MAC, as Docker makes it: 02:42 and the IPv4 address (unique on the
 * host, as subnets never overlap), or random locally administered bytes on an IPv6-only network.
 * Known in advance, so `network inspect` needs no look into the container.
 */
function containerMac(addresses: readonly string[]): string {
  const v4 = addresses.find((a) => !a.includes(':'));
  const bytes = v4 ? [0x42, ...v4.split('.').map(Number)] : [...randomBytes(5)];
  return ['02', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** eth0, eth1, … as Docker names a container's interfaces in connection order. */
function nextIfname(state: State, container: string): string {
  const used = new Set(endpointsOf(state.endpoints, container).map((e) => e.ifname));
  for (let i = 0; ; i++) if (!used.has(`eth${i}`)) return `eth${i}`;
}

/** Host-side veth names are random like Docker's (veth + 7 hex) and unique in the state. */
export function newHostIfname(state: State): string {
  for (;;) {
    const name = `veth${randomBytes(4).toString('hex').slice(0, 7)}`;
    if (!endpointIndex(state.endpoints).hostIfnames.has(name)) return name;
  }
}
