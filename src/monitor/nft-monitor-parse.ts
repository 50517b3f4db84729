/**
 * Parses `nft -j monitor` lines (one JSON object each) and keeps those about the owned table.
 * nft 1.0.6 prints garbage for some interval elements, so an unparseable line still counts as
 * "something changed" rather than being dropped.
 */
import { z } from 'zod';
import { rulesetEventSchema, type RulesetEvent } from './events.js';

const lineSchema = z.record(
  z.string(),
  z.record(z.string(), z.looseObject({ family: z.string().optional(), table: z.string().optional(), name: z.string().optional() })),
);

const FOREIGN_OBJECTS = new Set(['table', 'chain', 'rule']);
const FOREIGN_FAMILIES = new Set(['ip', 'ip6', 'inet']);

/**
 * The head of an element line, as nft prints it (family, table and set name before the elements).
 * A rebuild of 10,000 ports prints 10,000 such lines; reading their heads alone spares parsing
 * each whole (the watch daemon's CPU and memory after a repair).
 */
const ELEMENT_HEAD = /^\{"(add|delete|destroy)": \{"element": \{"family": "([a-z0-9]+)", "table": "([^"\\]+)", "name": "([^"\\]+)"/;

export function parseNftMonitorLine(line: string, family: string, table: string): RulesetEvent | undefined {
  const text = line.trim();
  if (text === '') return undefined;
  const head = ELEMENT_HEAD.exec(text);
  if (head) {
    const [, action = 'unknown', fam = '', tbl = '', name] = head;
    return classifyNotice({ action, object: 'element', family: fam, table: tbl, name }, family, table);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return text.includes(`"${table}"`) ? rulesetEventSchema.parse({ type: 'ruleset', action: 'unknown', object: 'unknown' }) : undefined;
  }
  const parsed = lineSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const [action, objects] = Object.entries(parsed.data)[0] ?? [];
  const [object, body] = Object.entries(objects ?? {})[0] ?? [];
  if (!action || !object || !body) return undefined;
  const of = object === 'table' ? body.name : body.table;
  return classifyNotice({ action, object, family: body.family ?? '', table: of ?? '', name: body.name }, family, table);
}

/**
 * What one notice of nftables (from nft monitor's JSON or from the kernel itself, monitor/
 * nft-notices.ts) is to nftbridge: an event of its table (`table`, in `family` or, for the
 * anti-spoofing table of the same name, in the bridge family), a foreign one, or nothing.
 * `notice.table` is the table the object belongs to (a table's own name for a table).
 */
export function classifyNotice(
  notice: { action: string; object: string; family: string; table: string; name?: string | undefined; count?: number },
  family: string,
  table: string,
): RulesetEvent | undefined {
  const { action, object, name, count } = notice;
  const many = count !== undefined && count > 1 ? { count } : {};
  const ours = (notice.family === family || notice.family === 'bridge') && notice.table === table;
  if (!ours) {
    // Another table's tables, chains and rules (a firewall reloading, an admin's edit) matter to
    // the host firewall integration; its sets and elements (fail2ban's bans, say) do not.
    if (!FOREIGN_OBJECTS.has(object) || !FOREIGN_FAMILIES.has(notice.family)) return undefined;
    return rulesetEventSchema.parse({ type: 'ruleset', action, object, foreign: `${notice.family} ${notice.table}`.trim(), ...many });
  }
  return rulesetEventSchema.parse({ type: 'ruleset', action, object, ...(name ? { name } : {}), ...many });
}
