/** The ADD result in the version the configuration asks for (0.3.x/0.4.0 or 1.x). */
import type { Endpoint, Network } from '../topology/state.js';
import type { CniConfig } from './spec.js';

export interface Interface {
  name: string;
  mac: string;
  sandbox?: string;
}

const prefixOf = (net: Network, addr: string) => {
  const subnet = net.subnets.find((s) => s.cidr.includes(':') === addr.includes(':'));
  return { cidr: `${addr}/${subnet?.cidr.split('/')[1] ?? (addr.includes(':') ? '128' : '32')}`, gateway: subnet?.gateway };
};

/**
 * Interfaces as the bridge plugin lists them: the bridge, the host-side veth, then the container's
 * interface, whose index every IP names (Podman drops IPs without it).
 */
export function addResult(
  conf: CniConfig,
  net: Network,
  ep: Endpoint,
  interfaces: { bridge: Interface; host: Interface; container: Interface },
  defaultRoute: boolean,
): Record<string, unknown> {
  const legacy = conf.cniVersion.startsWith('0.');
  const ips = ep.addresses.map((addr) => {
    const { cidr, gateway } = prefixOf(net, addr);
    return { ...(legacy ? { version: addr.includes(':') ? '6' : '4' } : {}), address: cidr, ...(gateway ? { gateway } : {}), interface: 2 };
  });
  const routes = defaultRoute
    ? ep.addresses.map((addr) => ({ dst: addr.includes(':') ? '::/0' : '0.0.0.0/0', gw: prefixOf(net, addr).gateway ?? '' }))
    : [];
  return {
    cniVersion: conf.cniVersion,
    interfaces: [interfaces.bridge, interfaces.host, interfaces.container],
    ips,
    routes,
    dns: conf.dns ?? {},
  };
}
