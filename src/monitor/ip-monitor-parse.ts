/**
 * Parses `ip -o -d monitor label link address route` (iproute2 6.1 prints text even with -j):
 * one record per line, a [LINK]/[ADDR]/[ROUTE] label, "Deleted " for removals, and the record's
 * continuation lines folded in with a backslash.
 */
import { addressEventSchema, linkEventSchema, routeEventSchema, type TopologyEvent } from './events.js';

export type ParsedLine =
  | (Omit<Extract<TopologyEvent, { type: 'link' }>, 'action'> & { action: 'upserted' | 'deleted' })
  | Extract<TopologyEvent, { type: 'address' | 'route' }>;

const LINK = /^(\d+): ([^:@\s]+)(?:@[^:\s]+)?: <([^>]*)>(.*)$/;
const ADDR = /^(\d+): (\S+)\s+(inet6?) ([^\s/]+)\/(\d+)/;
const ROUTE_TYPES = new Set([
  'unicast',
  'local',
  'broadcast',
  'multicast',
  'anycast',
  'blackhole',
  'unreachable',
  'prohibit',
  'throw',
  'nat',
]);

function attr(text: string, key: string): string | undefined {
  const m = new RegExp(`(?:^|\\s)${key} (\\S+)`).exec(text);
  return m?.[1];
}

function parseLink(body: string, deleted: boolean): ParsedLine | undefined {
  const m = LINK.exec(body);
  if (!m) return undefined;
  const [, index = '', name = '', flags = '', rest = ''] = m;
  // With -d, the third folded segment starts with the link kind ("bridge …", "veth …").
  const segments = rest.split('\\').map((s) => s.trim());
  const kind = segments[2]?.split(/\s+/)[0] || undefined;
  // Bridge-port notifications (AF_BRIDGE) carry no qdisc or group; their "Deleted" means the port
  // left its bridge, not that the link is gone.
  const bridgePort = !/\b(qdisc|group)\b/.test(segments[0] ?? '');
  const left = bridgePort && deleted;
  const parsed = linkEventSchema.safeParse({
    type: 'link',
    action: 'changed',
    index: Number(index),
    name,
    ...(kind ? { kind } : {}),
    ...(attr(segments[0] ?? '', 'master') && !left ? { master: attr(segments[0] ?? '', 'master') } : {}),
    ...(attr(segments[0] ?? '', 'state') ? { state: attr(segments[0] ?? '', 'state') } : {}),
    flags: flags ? flags.split(',') : [],
  });
  return parsed.success ? { ...parsed.data, action: deleted && !left ? 'deleted' : 'upserted' } : undefined;
}

function parseAddr(body: string, deleted: boolean): ParsedLine | undefined {
  const m = ADDR.exec(body);
  if (!m) return undefined;
  const parsed = addressEventSchema.safeParse({
    type: 'address',
    action: deleted ? 'deleted' : 'added',
    index: Number(m[1]),
    ifname: m[2],
    family: m[3] === 'inet6' ? 6 : 4,
    address: m[4],
    prefixlen: Number(m[5]),
  });
  return parsed.success ? parsed.data : undefined;
}

function parseRoute(body: string, deleted: boolean): ParsedLine | undefined {
  const words = body.trim().split(/\s+/);
  const routeType = ROUTE_TYPES.has(words[0] ?? '') ? (words.shift() as string) : 'unicast';
  const dst = words[0];
  const text = words.join(' ');
  const parsed = routeEventSchema.safeParse({
    type: 'route',
    action: deleted ? 'deleted' : 'added',
    routeType,
    dst,
    ...(attr(text, 'dev') ? { dev: attr(text, 'dev') } : {}),
    ...(attr(text, 'via') ? { gateway: attr(text, 'via') } : {}),
    ...(attr(text, 'table') ? { table: attr(text, 'table') } : {}),
  });
  return parsed.success ? parsed.data : undefined;
}

/** One monitor line to one event; undefined for lines that are not link, address or route records. */
export function parseMonitorLine(line: string): ParsedLine | undefined {
  const m = /^\[(LINK|ADDR|ROUTE)\](Deleted )?(.*)$/.exec(line.trimEnd());
  if (!m) return undefined;
  const [, label, del, body = ''] = m;
  const deleted = del !== undefined;
  if (label === 'LINK') return parseLink(body, deleted);
  if (label === 'ADDR') return parseAddr(body, deleted);
  return parseRoute(body, deleted);
}
