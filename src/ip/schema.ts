/** zod schemas for what `ip -j` prints; only the fields nftbridge reads are required. */
import { z } from 'zod';

export const linkSchema = z.looseObject({
  ifindex: z.number(),
  ifname: z.string(),
  flags: z.array(z.string()).default([]),
  mtu: z.number().optional(),
  master: z.string().optional(),
  operstate: z.string().optional(),
  link_type: z.string().optional(),
  address: z.string().optional(),
  ifalias: z.string().optional(),
  linkinfo: z.looseObject({ info_kind: z.string().optional() }).optional(),
});
export type Link = z.infer<typeof linkSchema>;

// Address dumps are parsed with z.object, which drops what is not named here: a host of 1,000
// endpoints prints about 1 MB of link details (bridge port settings), which nothing reads and
// which a loose object would copy on every resync (bench: "watch on a large host").
export const addrInfoSchema = z.object({
  family: z.enum(['inet', 'inet6']),
  local: z.string(),
  prefixlen: z.number(),
  scope: z.string().optional(),
});

/** `ip -j addr show` also carries each link's flags and master: one read serves both. */
export const addrSchema = z.object({
  ifindex: z.number(),
  ifname: z.string(),
  flags: z.array(z.string()).default([]),
  master: z.string().optional(),
  /** The mark nftbridge puts on every link it creates (see ops/ownership.ts). */
  ifalias: z.string().optional(),
  linkinfo: z.object({ info_kind: z.string().optional() }).optional(),
  /** The link group ("default", or a number): ops/ownership.ts deletes many links as one group. */
  group: z.union([z.string(), z.number()]).optional(),
  addr_info: z.array(addrInfoSchema).default([]),
});
export type LinkAddresses = z.infer<typeof addrSchema>;

export const routeSchema = z.looseObject({
  dst: z.string(),
  gateway: z.string().optional(),
  dev: z.string().optional(),
  protocol: z.string().optional(),
  scope: z.string().optional(),
  prefsrc: z.string().optional(),
});
export type Route = z.infer<typeof routeSchema>;

/** `ip -j neigh show dev DEV`: who the host has seen on a link, and in which state. */
export const neighSchema = z.looseObject({
  dst: z.string(),
  lladdr: z.string().optional(),
  state: z.array(z.string()).default([]),
});
export type Neighbour = z.infer<typeof neighSchema>;
