/** Reading a command's parsed arguments (commander parses them, see run.ts), validated per command. */
import { z } from 'zod';
import { ValidationError } from '../errors.js';

export interface OptionSpec {
  /** Takes a value; `repeat` collects every occurrence. */
  value?: boolean;
  repeat?: boolean;
  /** A one-letter alias, where Docker has one (`-q`, `-f`). */
  short?: string;
}

/** What each option does, for `COMMAND --help` (one place, as most names mean the same everywhere). */
export const OPTION_HELP: Record<string, string> = {
  subnet: 'a subnet (CIDR), one per address family',
  gateway: 'the gateway address, one per family (default: the first host of the subnet)',
  bridge: 'the bridge interface name (default nb-NAME)',
  internal: 'no egress, no default route, no published ports',
  'no-icc': 'containers on this network cannot reach each other',
  mtu: 'MTU of the bridge and its veths',
  label: 'a KEY=VALUE label, kept in the state (repeatable)',
  quiet: 'names only',
  filter: 'name=PART or label=KEY[=VALUE] (repeatable)',
  force: 'do not ask',
  ip: 'the IPv4 address (default: the lowest free one)',
  ip6: 'the IPv6 address (default: the lowest free one)',
  ifname: 'the interface name inside the container (default eth0, eth1, ...)',
  mac: 'the MAC address inside the container (default 02:42 and the IPv4 address)',
  'no-sandbox': 'run in the current namespaces',
  format: 'dot (default) or mermaid',
  list: 'print the network or container names (for the completion scripts)',
  'resync-ms': 'period of the full resync (default 30000)',
  'coalesce-ms': 'window that gathers events into one convergence (default 20)',
  type: 'keep only events of this type (repeatable)',
  dir: 'the CNI plugin directory (default /opt/cni/bin)',
  'run-dir': "where the plugin's resident helper keeps its socket (default /run/nftbridge)",
};

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  netns: { value: true },
  'state-dir': { value: true },
  'host-firewall': { value: true },
  'mark-mask': { value: true },
  json: {},
};

export interface ParsedArgs {
  positionals: string[];
  options: Record<string, string | string[] | true>;
}

export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.options[name];
  return typeof v === 'string' ? v : undefined;
}

export function list(args: ParsedArgs, name: string): string[] {
  const v = args.options[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.options[name] === true;
}

export function int(args: ParsedArgs, name: string): number | undefined {
  const v = str(args, name);
  if (v === undefined) return undefined;
  const parsed = z.coerce.number().int().safeParse(v);
  if (!/^\d+$/.test(v) || !parsed.success) throw new ValidationError(`--${name}`, `"${v}" is not a whole number`);
  return parsed.data;
}

/** Exactly `names.length` positionals, or `min` and more when `rest` is set. */
export function positionals(args: ParsedArgs, names: string[], rest?: string): string[] {
  const p = args.positionals;
  if (p.length < names.length + (rest ? 1 : 0)) {
    const missing = p.length < names.length ? names[p.length] : rest;
    throw new ValidationError(missing ?? 'argument', 'missing');
  }
  if (!rest && p.length > names.length) throw new ValidationError(p[names.length] ?? 'argument', 'unexpected argument');
  for (const [i, v] of p.entries()) if (v === '') throw new ValidationError(names[i] ?? rest ?? 'argument', 'is empty');
  return p;
}
