/** Typed, zod-validated events about the host: topology (ip monitor, /run/netns) and the owned table (nft monitor). */
import { z } from 'zod';

export const linkEventSchema = z.object({
  type: z.literal('link'),
  action: z.enum(['added', 'changed', 'deleted']),
  index: z.number().int().nonnegative(),
  name: z.string().min(1),
  kind: z.string().optional(),
  master: z.string().optional(),
  state: z.string().optional(),
  flags: z.array(z.string()),
});

export const addressEventSchema = z.object({
  type: z.literal('address'),
  action: z.enum(['added', 'deleted']),
  index: z.number().int().nonnegative(),
  ifname: z.string().min(1),
  family: z.union([z.literal(4), z.literal(6)]),
  address: z.string().min(1),
  prefixlen: z.number().int().min(0).max(128),
});

export const routeEventSchema = z.object({
  type: z.literal('route'),
  action: z.enum(['added', 'deleted']),
  routeType: z.string(),
  dst: z.string().min(1),
  dev: z.string().optional(),
  gateway: z.string().optional(),
  table: z.string().optional(),
});

export const netnsEventSchema = z.object({
  type: z.literal('netns'),
  action: z.enum(['added', 'deleted']),
  name: z.string().min(1),
});

export const topologyEventSchema = z.discriminatedUnion('type', [linkEventSchema, addressEventSchema, routeEventSchema, netnsEventSchema]);
export type TopologyEvent = z.infer<typeof topologyEventSchema>;
export type LinkEvent = z.infer<typeof linkEventSchema>;
export type AddressEvent = z.infer<typeof addressEventSchema>;
export type RouteEvent = z.infer<typeof routeEventSchema>;
export type NetnsEvent = z.infer<typeof netnsEventSchema>;

export const rulesetEventSchema = z.object({
  type: z.literal('ruleset'),
  /** add, delete, replace, … as nft monitor reports it. */
  action: z.string(),
  /** table, chain, rule, set, map, element, …; "unknown" when nft printed something unparseable. */
  object: z.string(),
  name: z.string().optional(),
  /** Set for another table's change (a host firewall's reload, say): "family table". */
  foreign: z.string().optional(),
  /** How many alike notices in a row the event stands for (a rebuild's elements of one set), when more than one. */
  count: z.number().int().positive().optional(),
});
export type RulesetEvent = z.infer<typeof rulesetEventSchema>;
