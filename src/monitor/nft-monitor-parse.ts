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
    const [, action, fam, tbl, name] = head;
    // Another table's elements (fail2ban's bans, say) matter to nobody here.
    if (tbl !== table || (fam !== family && fam !== 'bridge')) return undefined;
    return { type: 'ruleset', action: action ?? 'unknown', object: 'element', ...(name ? { name } : {}) };
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
  // nftbridge's anti-spoofing table has the same name in the bridge family.
  if (!action || !object || !body) return undefined;
  const ownFamily = body.family === family || body.family === 'bridge';
  const ours = ownFamily && (object === 'table' ? body.name === table : body.table === table);
  if (!ours) {
    // Another table's tables, chains and rules (a firewall reloading, an admin's edit) matter to
    // the host firewall integration; its sets and elements (fail2ban's bans, say) do not.
    if (!FOREIGN_OBJECTS.has(object) || !FOREIGN_FAMILIES.has(body.family ?? '')) return undefined;
    const foreignTable = object === 'table' ? body.name : body.table;
    return rulesetEventSchema.parse({ type: 'ruleset', action, object, foreign: `${body.family} ${foreignTable ?? ''}`.trim() });
  }
  return rulesetEventSchema.parse({ type: 'ruleset', action, object, ...(body.name ? { name: body.name } : {}) });
}
