/** Human-readable output of the CLI; --json prints the same data as JSON instead. */
import { describeMark } from '../hostfw/marks.js';
import type { Status } from '../host.js';
import { describePort } from '../host.js';
import type { OperationEvent } from '../ops/operation.js';
import type { State } from '../topology/state.js';
import { drawBridges } from './graph.js';
import { table } from './table.js';

export function formatStep(ev: OperationEvent<unknown>): string | undefined {
  if (ev.type !== 'step') return undefined;
  return `  [${ev.index + 1}/${ev.total}] ${ev.step}${ev.detail ? `: ${ev.detail}` : ''}`;
}

export function formatNetworks(state: State): string {
  const rows = state.networks.map((n) => {
    const count = state.endpoints.filter((e) => e.network === n.name).length;
    const flags = [n.internal ? 'internal' : '', n.icc ? '' : 'no-icc', n.mtu ? `mtu=${n.mtu}` : ''].filter(Boolean).join(',');
    return [
      n.name,
      n.bridge,
      n.subnets.map((s) => s.cidr).join(','),
      n.subnets.map((s) => s.gateway).join(','),
      String(count),
      flags || '-',
    ];
  });
  return table(['NAME', 'BRIDGE', 'SUBNETS', 'GATEWAYS', 'ENDPOINTS', 'FLAGS'], rows);
}

export function formatStatus(status: Status): string {
  const { state, drift } = status;
  // Each bridge with its ports and the containers behind them, as `brctl show` draws it.
  const out = [drawBridges(state), ''];
  out.push(
    table(
      ['NETWORK', 'CONTAINER', 'PORT'],
      state.ports.map((p) => [p.network, p.container, describePort(p)]),
    ),
    '',
  );
  out.push(...formatHostFirewall(status.hostFirewall, state), '');
  out.push(drift.length === 0 ? 'drift: none (kernel matches the desired state)' : `drift: ${drift.length}`);
  for (const d of drift) out.push(`  ${d.kind} ${d.subject}: ${d.reason}`);
  return out.join('\n');
}

/** The host firewalls found, what they would block, and nftbridge's way through them. */
function formatHostFirewall(hf: Status['hostFirewall'], state: Status['state']): string[] {
  if (hf.mode === 'off') return ['host firewall: integration off (--host-firewall off)'];
  if (hf.firewalls.length === 0) return [`host firewall: none found (marks ${hf.markMask})`];
  const out = [`host firewall: ${hf.firewalls.map((f) => `${f.kind} (${f.table})`).join(', ')}; marks within ${hf.markMask}`];
  for (const f of hf.firewalls)
    for (const c of f.chains)
      out.push(`  ${f.table} ${c.chain} (${c.hook}, priority ${c.prio}): ${c.why}${c.integrated ? ', nftbridge let through' : ''}`);
  if (hf.blocks.length > 0) out.push(`  would block without nftbridge's integration: ${hf.blocks.join(', ')}`);
  for (const i of hf.integration) out.push(`  in place: ${i}`);
  for (const n of state.networks) out.push(`  mark of ${n.name}: ${describeMark(n, state, Number(hf.markMask))}`);
  return out;
}
