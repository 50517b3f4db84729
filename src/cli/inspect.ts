/** What `network inspect` and `port` print, from the desired state alone (pure). */
import { DEFAULT_MARK_MASK, describeMark } from '../hostfw/marks.js';
import { describePort } from '../topology/publish-spec.js';
import type { Network, PublishedPort, State } from '../topology/state.js';

export interface NetworkInspect {
  name: string;
  bridge: string;
  subnets: { subnet: string; gateway: string }[];
  internal: boolean;
  icc: boolean;
  mtu: number | null;
  labels: Record<string, string>;
  created: string | null;
  /** The packet mark its accepted traffic carries, "VALUE/MASK" (README "Host firewalls"). */
  mark: string;
  /** By container name, as `docker network inspect` keys its containers. */
  containers: Record<
    string,
    { ifname: string; hostIfname: string; mac: string | null; ipv4: string | null; ipv6: string | null; ports: string[] }
  >;
}

const withPrefix = (net: Network, addr: string) => {
  const subnet = net.subnets.find((s) => s.cidr.includes(':') === addr.includes(':'));
  return `${addr}/${subnet?.cidr.split('/')[1] ?? (addr.includes(':') ? '64' : '32')}`;
};

export function inspectNetwork(state: State, net: Network, markMask = DEFAULT_MARK_MASK): NetworkInspect {
  const containers: NetworkInspect['containers'] = {};
  for (const ep of state.endpoints.filter((e) => e.network === net.name)) {
    const v4 = ep.addresses.find((a) => !a.includes(':'));
    const v6 = ep.addresses.find((a) => a.includes(':'));
    containers[ep.container] = {
      ifname: ep.ifname,
      hostIfname: ep.hostIfname,
      mac: ep.mac ?? null,
      ipv4: v4 ? withPrefix(net, v4) : null,
      ipv6: v6 ? withPrefix(net, v6) : null,
      ports: state.ports.filter((p) => p.network === net.name && p.container === ep.container).map(describePort),
    };
  }
  return {
    name: net.name,
    bridge: net.bridge,
    subnets: net.subnets.map((s) => ({ subnet: s.cidr, gateway: s.gateway })),
    internal: net.internal,
    icc: net.icc,
    mtu: net.mtu ?? null,
    labels: net.labels ?? {},
    created: net.created ?? null,
    mark: describeMark(net, state, markMask),
    containers,
  };
}

/**
 * `docker port` lines for a container's bindings: `80/tcp -> 0.0.0.0:8080`, one per host
 * address family and port (a range is listed port by port). `only` keeps one container port.
 */
export function portLines(
  state: State,
  container: string,
  only?: { port: number; protocol: string },
): { containerPort: string; host: string }[] {
  const out: { containerPort: string; host: string }[] = [];
  const families = (p: PublishedPort) => {
    if (p.hostIp !== undefined) return [p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp];
    const net = state.networks.find((n) => n.name === p.network);
    return ['0.0.0.0', ...(net?.subnets.some((s) => s.cidr.includes(':')) ? ['[::]'] : [])];
  };
  for (const p of state.ports.filter((x) => x.container === container))
    for (let i = 0; i <= p.hostPortEnd - p.hostPort; i++) {
      const cport = p.containerPort + i;
      if (only && (only.port !== cport || only.protocol !== p.protocol)) continue;
      for (const addr of families(p)) out.push({ containerPort: `${cport}/${p.protocol}`, host: `${addr}:${p.hostPort + i}` });
    }
  return out;
}
