/**
 * The packet marks of the host-firewall integration, a documented interface: every packet that
 * nftbridge's own policy accepts on the forward and input hooks leaves its chains with
 * `meta mark & MASK == NETWORK_MARK`, the mark of the network it belongs to. Bits outside the
 * mask are kept, so other software's marks (kube-proxy's 0x4000, say) survive.
 */
import { ValidationError } from '../errors.js';
import type { Network, State } from '../topology/state.js';

/** Bits 24-31: up to 255 networks, clear of kube-proxy (0x4000/0x8000), Tailscale (0xff0000) and WireGuard. */
export const DEFAULT_MARK_MASK = 0xff000000;

/** Parses a mask given as 0x… or decimal: one contiguous run of bits. */
export function parseMarkMask(field: string, text: string): number {
  const value = /^0x[0-9a-f]{1,8}$/i.test(text) ? Number.parseInt(text.slice(2), 16) : /^\d{1,10}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(value) || value <= 0 || value > 0xffffffff)
    throw new ValidationError(field, `mark mask must be a non-zero 32-bit number such as 0xff000000, got "${text}"`);
  const shift = lowestBit(value);
  const run = value / 2 ** shift;
  // A contiguous run of ones is 2^n - 1 once shifted down.
  if (((run + 1) & run) !== 0 && run !== 0xffffffff)
    throw new ValidationError(field, `mark mask must be one contiguous run of bits, got ${hex(value)}`);
  return value;
}

export const lowestBit = (mask: number): number => {
  let shift = 0;
  while (shift < 32 && Math.floor(mask / 2 ** shift) % 2 === 0) shift++;
  return shift;
};

/** How many network marks fit in the mask. */
export const markCapacity = (mask: number): number => mask / 2 ** lowestBit(mask);

export const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** The mark value of network number `id` (1-based) within the mask. */
export const markValue = (id: number, mask: number): number => id * 2 ** lowestBit(mask);

/**
 * Each network's mark number. Networks created since marks exist carry theirs; older ones get the
 * lowest free numbers, in order of name, so the answer is the same for every reader of one state.
 */
export function networkMarks(state: Pick<State, 'networks'>): Map<string, number> {
  const out = new Map<string, number>();
  const used = new Set<number>();
  for (const n of state.networks)
    if (n.mark !== undefined) {
      out.set(n.name, n.mark);
      used.add(n.mark);
    }
  let next = 1;
  // By name, so that the order of the state's list does not change anyone's mark.
  const unmarked = state.networks.filter((n) => !out.has(n.name)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const n of unmarked) {
    if (out.has(n.name)) continue;
    while (used.has(next)) next++;
    out.set(n.name, next);
    used.add(next);
  }
  return out;
}

/** The mark number for a new network: the lowest free one, refused past the mask's capacity. */
export function allocateMark(state: Pick<State, 'networks'>, mask: number): number {
  const used = new Set(networkMarks(state).values());
  let id = 1;
  while (used.has(id)) id++;
  if (id > markCapacity(mask))
    throw new ValidationError(
      'mark-mask',
      `no free network mark within ${hex(mask)} (${markCapacity(mask)} networks); widen NFTBRIDGE_MARK_MASK`,
    );
  return id;
}

/** "0x01000000/0xff000000": the form `nft` and `iptables -m mark --mark` take. */
export const describeMark = (net: Pick<Network, 'name'>, state: Pick<State, 'networks'>, mask: number): string =>
  `${hex(markValue(networkMarks(state).get(net.name) ?? 0, mask))}/${hex(mask)}`;
