/**
 * Pure checks and decisions for published ports, made before any side effect: bindings never
 * overlap (as in Docker), and a bulk change indexes instead of scanning per spec.
 */
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { parseCidr } from './cidr.js';
import { findEndpoint, findNetwork } from './plan.js';
import { parsePublishSpec, type PortSpec, type UnpublishSpec } from './publish-spec.js';
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
  // A few specs: one tight pass over the published ports each. Many: index them by protocol and
  // port first, so a bulk publish does not walk every port for every spec.
  const bulk = specs.length > 8;
  const byPort = new Map<string, PublishedPort[]>();
  const index = (p: PublishedPort) => {
    for (let n = p.hostPort; n <= p.hostPortEnd; n++) {
      const k = `${p.protocol}/${n}`;
      const list = byPort.get(k);
      if (list) list.push(p);
      else byPort.set(k, [p]);
    }
  };
  if (bulk) state.ports.forEach(index);
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
    let clash: PublishedPort | undefined;
    if (bulk)
      for (let n = port.hostPort; n <= port.hostPortEnd && !clash; n++)
        clash = byPort.get(`${port.protocol}/${n}`)?.find((p) => collides(p, port));
    else clash = state.ports.find((p) => collides(p, port)) ?? added.find((p) => collides(p, port));
    if (clash)
      throw new ConflictError(
        `spec "${text}"`,
        `${clash.hostIp ?? '*'}:${clash.hostPort}/${clash.protocol} is already published by "${clash.container}" on "${clash.network}"`,
      );
    added.push(port);
    if (bulk) index(port);
  }
  return added;
}

export function planUnpublish(state: State, network: string, container: string, specs: readonly UnpublishSpec[]): PublishedPort[] {
  findNetwork(state, network);
  findEndpoint(state, network, container);
  if (specs.length === 0) throw new ValidationError('spec', 'at least one HOST_PORT[/PROTO] is required');
  // The host port first: one integer check per published port rules out nearly all of them.
  const matches = (spec: UnpublishSpec) => (p: PublishedPort) =>
    p.hostPort === spec.hostPort &&
    p.protocol === spec.protocol &&
    p.network === network &&
    p.container === container &&
    (spec.hostIp === undefined || p.hostIp === spec.hostIp);
  // A few specs: one tight pass each. Many: one pass to index this endpoint's ports, then a lookup
  // per spec, so unpublishing 55,535 ports is linear, not 55,535 passes.
  let lookup = (spec: UnpublishSpec) => state.ports.find(matches(spec));
  if (specs.length > 8) {
    const mine = new Map<string, PublishedPort[]>();
    for (const p of state.ports) {
      if (p.network !== network || p.container !== container) continue;
      const k = `${p.protocol}/${p.hostPort}`;
      const list = mine.get(k);
      if (list) list.push(p);
      else mine.set(k, [p]);
    }
    lookup = (spec) => mine.get(`${spec.protocol}/${spec.hostPort}`)?.find(matches(spec));
  }
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
