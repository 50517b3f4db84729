/**
 * The topology as a picture: Graphviz dot or a Mermaid flowchart (host namespace, uplinks,
 * bridges, veth pairs, containers, published ports), and the same as text for `status`, as
 * `brctl show` would draw it with container names. Pure: the caller reads the uplinks.
 */
import { describePort } from '../topology/publish-spec.js';
import type { State } from '../topology/state.js';
import { table } from './table.js';

export interface Uplink {
  name: string;
  addresses: string[];
}

interface Node {
  id: string;
  label: string;
  shape: 'host' | 'uplink' | 'bridge' | 'veth' | 'container' | 'port';
}

function model(state: State, host: string, uplinks: readonly Uplink[]): { nodes: Node[]; edges: [string, string, string?][] } {
  const nodes: Node[] = [{ id: 'host', label: `host ${host}`, shape: 'host' }];
  const edges: [string, string, string?][] = [];
  for (const u of uplinks) {
    nodes.push({ id: `up_${u.name}`, label: `${u.name} ${u.addresses.join(' ')}`.trim(), shape: 'uplink' });
    edges.push(['host', `up_${u.name}`]);
  }
  for (const n of state.networks) {
    nodes.push({
      id: `br_${n.bridge}`,
      label: `${n.bridge} (${n.name}) ${n.subnets.map((s) => `${s.gateway}/${s.cidr.split('/')[1]}`).join(' ')}`,
      shape: 'bridge',
    });
    edges.push(['host', `br_${n.bridge}`]);
  }
  const containers = new Set<string>();
  for (const ep of state.endpoints) {
    const bridge = state.networks.find((n) => n.name === ep.network)?.bridge ?? '?';
    nodes.push({ id: `veth_${ep.hostIfname}`, label: ep.hostIfname, shape: 'veth' });
    edges.push([`br_${bridge}`, `veth_${ep.hostIfname}`]);
    if (!containers.has(ep.container)) nodes.push({ id: `c_${ep.container}`, label: ep.container, shape: 'container' });
    containers.add(ep.container);
    edges.push([`veth_${ep.hostIfname}`, `c_${ep.container}`, `${ep.ifname} ${ep.addresses.join(' ')}`]);
  }
  state.ports.forEach((p, i) => {
    nodes.push({ id: `port_${i}`, label: describePort(p), shape: 'port' });
    edges.push([`port_${i}`, `c_${p.container}`, 'DNAT']);
  });
  return { nodes, edges };
}

const DOT_SHAPE: Record<Node['shape'], string> = {
  host: 'house',
  uplink: 'cds',
  bridge: 'box',
  veth: 'ellipse',
  container: 'box3d',
  port: 'note',
};
const q = (s: string) => JSON.stringify(s);
const safe = (id: string) => id.replace(/[^A-Za-z0-9_]/g, '_');

export function toDot(state: State, host: string, uplinks: readonly Uplink[]): string {
  const { nodes, edges } = model(state, host, uplinks);
  return [
    'digraph nftbridge {',
    '  rankdir=LR;',
    ...nodes.map((n) => `  ${q(n.id)} [label=${q(n.label)}, shape=${DOT_SHAPE[n.shape]}];`),
    ...edges.map(([a, b, label]) => `  ${q(a)} -> ${q(b)}${label ? ` [label=${q(label)}]` : ''};`),
    '}',
  ].join('\n');
}

const MERMAID_SHAPE: Record<Node['shape'], [string, string]> = {
  host: ['[/', '\\]'],
  uplink: ['>', ']'],
  bridge: ['[', ']'],
  veth: ['(', ')'],
  container: ['[[', ']]'],
  port: ['{{', '}}'],
};

export function toMermaid(state: State, host: string, uplinks: readonly Uplink[]): string {
  const { nodes, edges } = model(state, host, uplinks);
  const text = (s: string) => `"${s.replace(/"/g, "'")}"`;
  return [
    'flowchart LR',
    ...nodes.map((n) => `  ${safe(n.id)}${MERMAID_SHAPE[n.shape][0]}${text(n.label)}${MERMAID_SHAPE[n.shape][1]}`),
    ...edges.map(([a, b, label]) => `  ${safe(a)} -->${label ? `|${text(label)}|` : ''} ${safe(b)}`),
  ].join('\n');
}

/** `brctl show`, with the container behind each port. */
export function drawBridges(state: State): string {
  const rows: string[][] = [];
  for (const n of state.networks) {
    const eps = state.endpoints.filter((e) => e.network === n.name);
    const first = [n.bridge, n.name, n.subnets.map((s) => s.cidr).join(',')];
    if (eps.length === 0) rows.push([...first, '']);
    for (const [i, e] of eps.entries())
      rows.push([...(i === 0 ? first : ['', '', '']), `${e.hostIfname} -> ${e.container}:${e.ifname} ${e.addresses.join(' ')}`]);
  }
  return table(['BRIDGE', 'NETWORK', 'SUBNETS', 'PORTS (host side -> container:ifname addresses)'], rows);
}
