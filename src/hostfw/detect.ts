/**
 * Finds, in another table's base chains, what would drop nftbridge's traffic: a filter chain on
 * the forward or input hook (ip, ip6 or inet) whose policy is drop or whose last rule drops or
 * rejects unconditionally. In nftables an accept ends only its own base chain; a drop anywhere is
 * final. Pure: it reads listings, the caller runs nft.
 */
import { z } from 'zod';
import type { ChainObj, RuleObj, Statement } from '../nft/schema.js';
import { hex } from './marks.js';

const firewallKindSchema = z.enum(['firewalld', 'ufw', 'iptables-nft', 'nftables']);
export type FirewallKind = z.infer<typeof firewallKindSchema>;

const foreignChainSchema = z.object({
  family: z.enum(['ip', 'ip6', 'inet']),
  table: z.string(),
  chain: z.string(),
  hook: z.enum(['forward', 'input']),
  prio: z.number(),
});
export type ForeignChain = z.infer<typeof foreignChainSchema>;

/** A schema because a look is also read back from a file (scan-memo.ts). */
export const blockingChainSchema = foreignChainSchema.extend({
  kind: firewallKindSchema,
  /** Why it would block: "policy drop", or the last rule's verdict. */
  why: z.string(),
  /** Handles of nftbridge's accept rules in it, by whether they match the current mask. */
  ours: z.array(z.object({ handle: z.number().int(), current: z.boolean() })),
});
export type BlockingChain = z.infer<typeof blockingChainSchema>;

const HOOKS = new Set(['forward', 'input']);
const FAMILIES = new Set(['ip', 'ip6', 'inet']);

/** Every rule nftbridge puts in another table carries this comment (with the mask it accepts). */
export const RULE_COMMENT_PREFIX = 'nftbridge:';
export const ruleComment = (mask: number): string => `${RULE_COMMENT_PREFIX} accept what nftbridge accepted (meta mark & ${hex(mask)})`;

/** Base filter chains on forward/input of tables other than nftbridge's own. */
export function candidateChains(chains: readonly ChainObj[], ownTables: ReadonlySet<string>): ForeignChain[] {
  const out: ForeignChain[] = [];
  for (const c of chains) {
    if (!FAMILIES.has(c.family) || c.type !== 'filter' || !c.hook || !HOOKS.has(c.hook)) continue;
    if (ownTables.has(`${c.family} ${c.table}`)) continue;
    out.push({
      family: c.family as ForeignChain['family'],
      table: c.table,
      chain: c.name,
      hook: c.hook as ForeignChain['hook'],
      prio: c.prio ?? 0,
    });
  }
  return out;
}

const PASSIVE = new Set(['counter', 'log', 'xt']);

/** Drop or reject with nothing before it that could fail to match (counters and logs only). */
function unconditionalVerdict(expr: readonly Statement[]): string | undefined {
  const last = expr[expr.length - 1];
  if (!last) return undefined;
  const verdict = 'drop' in last ? 'drop' : 'reject' in last ? 'reject' : isXtTarget(last, 'REJECT') ? 'reject' : undefined;
  if (!verdict) return undefined;
  const before = expr.slice(0, -1);
  return before.every((s) => Object.keys(s).every((k) => PASSIVE.has(k)) && !isXtMatch(s)) ? verdict : undefined;
}

function isXtTarget(s: Statement, name: string): boolean {
  const xt = (s as { xt?: { type?: string; name?: string } }).xt;
  return xt?.type === 'target' && xt.name === name;
}
const isXtMatch = (s: Statement): boolean => (s as { xt?: { type?: string } }).xt?.type === 'match';

/** Who manages a table, from what is in it. */
export function firewallKind(
  table: { family: string; name: string },
  chains: readonly ChainObj[],
  rules: readonly RuleObj[],
): FirewallKind {
  if (table.family === 'inet' && table.name === 'firewalld') return 'firewalld';
  if (chains.some((c) => c.table === table.name && c.family === table.family && c.name.startsWith('ufw'))) return 'ufw';
  const iptables =
    (table.family === 'ip' || table.family === 'ip6') &&
    ['filter', 'mangle', 'raw', 'nat', 'security'].includes(table.name) &&
    (chains.some((c) => c.table === table.name && c.family === table.family && /^[A-Z]+$/.test(c.name)) ||
      rules.some((r) => r.expr.some((s) => 'xt' in s)));
  return iptables ? 'iptables-nft' : 'nftables';
}

/** The chain blocks nftbridge's traffic? With its own accept rules, found by their comment. */
export function classifyChain(
  chain: ForeignChain & { policy?: string | undefined },
  rules: readonly RuleObj[],
  kind: FirewallKind,
  mask: number,
): BlockingChain | undefined {
  const ours = rules
    .filter((r) => r.comment?.startsWith(RULE_COMMENT_PREFIX) && r.handle !== undefined)
    .map((r) => ({ handle: r.handle as number, current: r.comment === ruleComment(mask) }));
  const why =
    chain.policy === 'drop'
      ? 'policy drop'
      : (() => {
          const verdict = unconditionalVerdict(rules[rules.length - 1]?.expr ?? []);
          return verdict ? `ends in ${verdict}` : undefined;
        })();
  if (!why && ours.length === 0) return undefined;
  // A chain that stopped blocking keeps being listed while it holds a rule of ours (for `down`).
  return { ...chain, kind, why: why ?? 'no longer blocks', ours };
}

/** The accept rule nftbridge inserts at the top of a blocking chain: nothing but its marks. */
export function acceptRuleExpr(mask: number): Statement[] {
  return [{ match: { op: '!=', left: { '&': [{ meta: { key: 'mark' } }, mask] }, right: 0 } }, { accept: null }];
}
