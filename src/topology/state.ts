/** The desired state: what nftbridge should make the kernel look like. Parsed with zod on every read. */
import { z } from 'zod';

export const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const ifname = z.string().regex(IFNAME_RE);

export const subnetSchema = z.object({
  cidr: z.string(),
  gateway: z.string(),
});

export const networkSchema = z.object({
  name: z.string().min(1),
  bridge: ifname,
  subnets: z.array(subnetSchema).min(1),
  internal: z.boolean().default(false),
  icc: z.boolean().default(true),
  mtu: z.number().int().positive().optional(),
  /** KEY=VALUE labels given at creation (`--label`), as Docker keeps them. */
  labels: z.record(z.string(), z.string()).optional(),
  /** When it was created (ISO 8601). */
  created: z.string().optional(),
  /** Its number within the packet-mark mask (hostfw/marks.ts); absent in states from before marks. */
  mark: z.number().int().positive().optional(),
});
export type Network = z.infer<typeof networkSchema>;

export const containerSchema = z.object({
  /** What the user called it: a namespace name, or a path such as /proc/PID/ns/net. */
  name: z.string().min(1),
  netns: z.string().min(1),
  /** True when nftbridge created the named namespace, so `down` may remove it. */
  created: z.boolean(),
  /**
   * The namespace's identity (nsfs "dev:ino") when it was connected: a path that names another
   * namespace since (a reused PID) is not this container, and nothing is done in it.
   */
  nsid: z.string().optional(),
});
export type Container = z.infer<typeof containerSchema>;

export const endpointSchema = z.object({
  network: z.string(),
  container: z.string(),
  ifname,
  hostIfname: ifname,
  addresses: z.array(z.string()).min(1),
  mac: z.string().optional(),
});
export type Endpoint = z.infer<typeof endpointSchema>;

export const protocolSchema = z.enum(['tcp', 'udp']);
export type Protocol = z.infer<typeof protocolSchema>;

export const portSchema = z.object({
  network: z.string(),
  container: z.string(),
  protocol: protocolSchema,
  /** Absent: every local address of that family, as Docker's default 0.0.0.0. */
  hostIp: z.string().optional(),
  hostPort: z.number().int().min(1).max(65535),
  hostPortEnd: z.number().int().min(1).max(65535),
  containerPort: z.number().int().min(1).max(65535),
});
export type PublishedPort = z.infer<typeof portSchema>;

export const stateSchema = z.object({
  version: z.literal(1),
  /** Which journal belongs to this snapshot (see StateStore). */
  generation: z.string().optional(),
  /** The links of this state carry nftbridge's mark (states written before marks existed do not). */
  marked: z.boolean().optional(),
  networks: z.array(networkSchema),
  containers: z.array(containerSchema),
  endpoints: z.array(endpointSchema),
  ports: z.array(portSchema),
});
export type State = z.infer<typeof stateSchema>;

export const emptyState = (): State => ({ version: 1, marked: true, networks: [], containers: [], endpoints: [], ports: [] });
