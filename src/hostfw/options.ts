/** The host firewall options from the Host's options and the environment, and its drift entries. */
import { ValidationError } from '../errors.js';
import type { Drift } from '../reconcile/drift.js';
import type { HostFirewallMode, HostFirewallReport } from './host-firewall.js';
import { DEFAULT_MARK_MASK, parseMarkMask } from './marks.js';

export function parseHostFirewallMode(field: string, text: string): HostFirewallMode {
  if (text === 'auto' || text === 'on') return 'auto';
  if (text === 'off') return 'off';
  throw new ValidationError(field, `must be "auto" or "off", got "${text}"`);
}

export function hostFirewallOptions(
  options: { hostFirewall?: HostFirewallMode; markMask?: number },
  env: NodeJS.ProcessEnv = process.env,
): { mode: HostFirewallMode; mask: number } {
  const envMode = env.NFTBRIDGE_HOST_FIREWALL;
  const mode = options.hostFirewall ?? (envMode ? parseHostFirewallMode('NFTBRIDGE_HOST_FIREWALL', envMode) : 'auto');
  const envMask = env.NFTBRIDGE_MARK_MASK;
  const mask = options.markMask ?? (envMask ? parseMarkMask('NFTBRIDGE_MARK_MASK', envMask) : DEFAULT_MARK_MASK);
  return { mode, mask };
}

/** Missing integration is drift, of kind "host-firewall". */
export const hostFirewallDrift = (report: HostFirewallReport): Drift[] =>
  report.missing.map((reason): Drift => ({ kind: 'host-firewall', subject: 'host firewall', reason }));
