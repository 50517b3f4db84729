/**
 * Pure checks and decisions for published ports, made before any side effect: bindings never
 * overlap (as in Docker), and a spec is checked against the bindings at its ports only (port-index.ts).
 */
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { parseCidr } from './cidr.js';
import { findEndpoint, findNetwork } from './plan.js';
import { parsePublishSpec, type PortSpec, type UnpublishSpec } from './publish-spec.js';
import { addToPortIndex, newPortIndex, type PortIndex, portIndex, portsAt } from './port-index.js';
import type { PublishedPort, State } from './state.js';

/** Two bindings collide when protocol and port ranges meet and the addresses can be the same. */
function collides(a: Pick<PublishedPort, 'protocol' | 'hostIp' | 'hostPort' | 'hostPortEnd'>, b: typeof a): boolean {
  // Integers first: this runs once per published port for every spec.
  if (a.hostPort > b.hostPortEnd || b.hostPort > a.hostPortEnd || a.protocol !== b.protocol) return false;
  // A binding on every address (no hostIp) overlaps any binding of the same port, as in Docker.
  return a.hostIp === undefined || b.hostIp === undefined || a.hostIp === b.hostIp;
}

export function planPublish(state: State, network: string, container: string, specs: readonly string[]): PublishedPort[] {
  const net = findNetwork(state, network);
  findEndpoint(state, network, container);
  if (specs.length === 0) throw new ValidationError('spec', 'at least one port spec is required');
  if (net.internal) throw new ValidationError('network', `network "${network}" is internal; ports cannot be published from it`);
  const added: PublishedPort[] = [];
  // The published ports by host port (kept with the list: topology/port-index.ts), and this
  // call's own: a spec meets only the bindings at its ports, not every port of the host.
  const shared = portIndex(state.ports);
  const mine = newPortIndex();
  const clashWith = (index: PortIndex, port: PublishedPort) => {
    for (const p of portsAt(index, port.hostPort, port.hostPortEnd)) if (collides(p, port)) return p;
    return undefined;
  };
  for (const text of specs) {
    const spec: PortSpec = parsePublishSpec(text, 'spec');
    const port: PublishedPort = {
      network,
      container,
      protocol: spec.protocol,
      ...(spec.hostIp ? { hostIp: spec.hostIp } : {}),
      hostPort: spec.hostPort,
      hostPortEnd: spec.hostPortEnd,
      containerPort: spec.containerPort,
    };
    if (port.hostIp !== undefined) {
      const fam = port.hostIp.includes(':') ? 6 : 4;
      if (!net.subnets.some((s) => parseCidr('subnet', s.cidr).family === fam))
        throw new ValidationError(`spec "${text}"`, `network "${network}" has no IPv${fam} subnet to publish ${port.hostIp} to`);
    }
    const clash = clashWith(shared, port) ?? clashWith(mine, port);
    if (clash)
      throw new ConflictError(
        `spec "${text}"`,
        `${clash.hostIp ?? '*'}:${clash.hostPort}/${clash.protocol} is already published by "${clash.container}" on "${clash.network}"`,
      );
    added.push(port);
    addToPortIndex(mine, port);
  }
  return added;
}

export function planUnpublish(state: State, network: string, container: string, specs: readonly UnpublishSpec[]): PublishedPort[] {
  findNetwork(state, network);
  findEndpoint(state, network, container);
  if (specs.length === 0) throw new ValidationError('spec', 'at least one HOST_PORT[/PROTO] is required');
  const matches = (spec: UnpublishSpec) => (p: PublishedPort) =>
    p.hostPort === spec.hostPort &&
    p.protocol === spec.protocol &&
    p.network === network &&
    p.container === container &&
    (spec.hostIp === undefined || p.hostIp === spec.hostIp);
  // By host port (topology/port-index.ts): one lookup per spec, not a pass over every port.
  const index = portIndex(state.ports);
  const lookup = (spec: UnpublishSpec) => index.byStart.get(spec.hostPort)?.find(matches(spec));
  return specs.map((spec) => {
    const hit = lookup(spec);
    if (!hit)
      throw new NotFoundError(
        'spec',
        `${spec.hostIp ?? ''}${spec.hostIp ? ':' : ''}${spec.hostPort}/${spec.protocol} is not published by "${container}" on "${network}"`,
      );
    return hit;
  });
}
