/**
 * The CNI commands on nftbridge's Host: the conflist's network is an nftbridge network (created on
 * the first ADD, removed with its last attachment), each attachment an endpoint whose container is
 * CNI_CONTAINERID, in the same state store and table as the CLI. DEL and GC work from that state
 * alone, never from the namespace (it may be gone, or not given at all).
 */
import { ConflictError, NftbridgeError, NotFoundError, StateFileError, ValidationError } from '../errors.js';
import { Host } from '../host.js';
import { Ip } from '../ip/ip.js';
import { networkOfAddress } from '../topology/cidr.js';
import type { ConnectInput } from '../topology/plan.js';
import type { Endpoint, Network, State } from '../topology/state.js';
import { delegateIpam } from './ipam.js';
import { addResult, type Interface } from './result.js';
import { type CniConfig, type CniEnv, CniError, CODE, type PortMapping } from './spec.js';

export interface PluginIo {
  /** The configuration text as read, passed on to a delegated IPAM plugin unchanged. */
  stdin: string;
}

const endpointOf = (state: State, conf: CniConfig, env: CniEnv): Endpoint | undefined =>
  state.endpoints.find((e) => e.network === conf.name && e.container === env.containerId);

/** nftbridge's errors as the spec's codes. */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof ConflictError && (err.field === 'container' || err.field === 'ifname'))
    return new CniError(CODE.alreadyAttached, err.message);
  if (err instanceof NotFoundError && (err.field === 'netns' || err.field === 'container'))
    return new CniError(CODE.invalidEnvironment, err.message);
  if (err instanceof ValidationError) return new CniError(CODE.invalidConfig, err.message);
  if (err instanceof StateFileError) return new CniError(CODE.io, err.message);
  if (err instanceof NftbridgeError) return new CniError(CODE.failed, err.message);
  return new CniError(CODE.failed, err instanceof Error ? err.message : String(err));
}

/** Hosts kept open by the resident helper, by state directory ("" for the default). */
let kept: Map<string, Host> | undefined;
export const keepHostsOpen = (): void => void (kept ??= new Map());
export async function closeHosts(): Promise<void> {
  for (const h of kept?.values() ?? []) await h.close().catch(() => undefined);
  kept?.clear();
}

/** The Host of the configuration's state directory, and how to let go of it after the call. */
export async function openHost(conf: CniConfig): Promise<Host & { release(): Promise<void> }> {
  const key = conf.stateDir ?? '';
  const cached = kept?.get(key);
  const host = cached ?? (await Host.open(conf.stateDir ? { stateDir: conf.stateDir } : {}));
  if (kept && !cached) kept.set(key, host);
  return Object.assign(host, { release: () => (kept ? Promise.resolve() : host.close()) });
}

/** The network of the conflist, created on first use; a concurrent ADD that created it first is fine. */
async function ensureNetwork(host: Host, conf: CniConfig, ipamSubnets: string[]): Promise<Network> {
  const existing = (await host.state()).networks.find((n) => n.name === conf.name);
  if (existing) return existing;
  const subnets = conf.subnets ?? (conf.subnet ? [conf.subnet] : ipamSubnets);
  if (subnets.length === 0)
    throw new CniError(CODE.invalidConfig, 'subnet: the configuration needs "subnet", "subnets" or an "ipam" section');
  try {
    return await host.createNetwork({
      name: conf.name,
      subnet: subnets,
      ...(conf.gateway ? { gateway: conf.gateway } : {}),
      ...(conf.bridge ? { bridge: conf.bridge } : {}),
      ...(conf.internal !== undefined ? { internal: conf.internal } : {}),
      ...(conf.icc !== undefined ? { icc: conf.icc } : {}),
      ...(conf.mtu !== undefined ? { mtu: conf.mtu } : {}),
    });
  } catch (err) {
    const raced = (await host.state()).networks.find((n) => n.name === conf.name);
    if (err instanceof ConflictError && raced) return raced;
    throw err;
  }
}

/** The addresses asked for: runtimeConfig.ips (capability "ips"), else Podman's CNI_ARGS IP=. */
function requested(conf: CniConfig, env: CniEnv, ipam: string[]): Pick<ConnectInput, 'ip' | 'ip6' | 'mac'> {
  const wanted = [...ipam, ...(conf.runtimeConfig?.ips ?? []), ...(env.args.get('IP')?.split(',') ?? [])].map((a) => a.split('/')[0] ?? a);
  const ip = wanted.find((a) => !a.includes(':'));
  const ip6 = wanted.find((a) => a.includes(':'));
  const mac = conf.runtimeConfig?.mac ?? env.args.get('MAC');
  return { ...(ip ? { ip } : {}), ...(ip6 ? { ip6 } : {}), ...(mac ? { mac } : {}) };
}

const portSpec = (p: PortMapping): string => {
  const proto = (p.protocol ?? 'tcp').toLowerCase();
  const host = p.hostIP && p.hostIP !== '0.0.0.0' && p.hostIP !== '::' ? (p.hostIP.includes(':') ? `[${p.hostIP}]:` : `${p.hostIP}:`) : '';
  return `${host}${p.hostPort}:${p.containerPort}/${proto}`;
};

async function linkMac(ip: Ip, name: string): Promise<string> {
  const link = (await ip.links()).find((l) => l.ifname === name);
  return link?.address ?? '';
}

export async function add(conf: CniConfig, env: CniEnv, io: PluginIo): Promise<Record<string, unknown>> {
  const host = await openHost(conf);
  try {
    const before = await host.state();
    if (endpointOf(before, conf, env))
      throw new CniError(
        CODE.alreadyAttached,
        `container ${env.containerId} is already attached to network "${conf.name}" (${env.ifname})`,
      );
    const ipam = conf.ipam?.type ? await delegateIpam(conf.ipam.type, 'ADD', io.stdin, env.path, env.raw) : undefined;
    const ipamAddrs = ipam?.ips.map((i) => i.address) ?? [];
    const net = await ensureNetwork(
      host,
      conf,
      ipamAddrs.map((a) => networkOfAddress('ipam', a)),
    );
    let ep: Endpoint;
    try {
      ep = await host.connect(conf.name, env.containerId, { netns: env.netns, ifname: env.ifname, ...requested(conf, env, ipamAddrs) });
    } catch (err) {
      await removeIfUnused(host, conf.name);
      throw err;
    }
    const ports = conf.runtimeConfig?.portMappings ?? [];
    if (ports.length > 0)
      try {
        await host.publish(conf.name, env.containerId, ports.map(portSpec));
      } catch (err) {
        await host.disconnect(conf.name, env.containerId).catch(() => undefined);
        await removeIfUnused(host, conf.name);
        throw err;
      }
    const state = await host.state();
    const others = state.endpoints.filter((e) => e.container === env.containerId && e !== ep && e.network !== conf.name);
    const defaultRoute = !net.internal && !others.some((e) => !state.networks.find((n) => n.name === e.network)?.internal);
    const containerIp = new Ip(host.runner, env.netns);
    const interfaces: { bridge: Interface; host: Interface; container: Interface } = {
      bridge: { name: net.bridge, mac: await linkMac(host.ip, net.bridge) },
      host: { name: ep.hostIfname, mac: await linkMac(host.ip, ep.hostIfname) },
      container: { name: ep.ifname, mac: ep.mac ?? (await linkMac(containerIp, ep.ifname)), sandbox: env.netns },
    };
    await containerIp.close();
    return addResult(conf, net, ep, interfaces, defaultRoute);
  } finally {
    await host.release();
  }
}

/** Best effort and idempotent: whatever ADD made goes, found from nftbridge's state. */
export async function del(conf: CniConfig, env: CniEnv, io: PluginIo): Promise<void> {
  const host = await openHost(conf);
  try {
    const ep = endpointOf(await host.state(), conf, env);
    if (ep) await host.disconnect(conf.name, env.containerId);
    await removeIfUnused(host, conf.name);
    if (conf.ipam?.type) await delegateIpam(conf.ipam.type, 'DEL', io.stdin, env.path, env.raw);
  } finally {
    await host.release();
  }
}

async function removeIfUnused(host: Host, network: string): Promise<void> {
  const state = await host.state();
  if (state.networks.some((n) => n.name === network) && !state.endpoints.some((e) => e.network === network))
    await host.removeNetwork(network).catch((err: unknown) => {
      // Another ADD attached to it meanwhile: it stays.
      if (!(err instanceof ValidationError)) throw err;
    });
}

/** The attachment is as ADD left it: state, addresses, the interface in the namespace, nftbridge's table. */
export async function check(conf: CniConfig, env: CniEnv): Promise<void> {
  const host = await openHost(conf);
  try {
    const status = await host.status();
    const ep = endpointOf(status.state, conf, env);
    if (!ep) throw new CniError(CODE.unknownContainer, `container ${env.containerId} is not attached to network "${conf.name}"`);
    if (ep.ifname !== env.ifname) throw new CniError(CODE.failed, `attached as ${ep.ifname}, not ${env.ifname}`);
    const prev = (conf.prevResult as { ips?: { address?: string }[] } | undefined)?.ips ?? [];
    const want = new Set(ep.addresses);
    for (const ip of prev) {
      const addr = ip.address?.split('/')[0];
      if (addr && !want.has(addr))
        throw new CniError(CODE.failed, `prevResult address ${ip.address} is not the attachment's (${ep.addresses.join(', ')})`);
    }
    const inside = new Ip(host.runner, env.netns);
    try {
      const link = (await inside.addresses()).find((l) => l.ifname === ep.ifname);
      if (!link) throw new CniError(CODE.failed, `interface ${ep.ifname} is missing in ${env.netns}`);
      const have = new Set(link.addr_info.map((a) => a.local));
      for (const a of ep.addresses)
        if (!have.has(a)) throw new CniError(CODE.failed, `address ${a} is missing on ${ep.ifname} in ${env.netns}`);
      // The routes of prevResult: a default route through this interface's gateway.
      const prevRoutes = (conf.prevResult as { routes?: { dst?: string; gw?: string }[] } | undefined)?.routes ?? [];
      for (const r of prevRoutes.filter((x) => x.dst === '0.0.0.0/0' || x.dst === '::/0')) {
        const routes = await inside.routes(r.dst === '::/0' ? 6 : 4);
        if (!routes.some((x) => x.dst === 'default' && x.dev === ep.ifname && (!r.gw || x.gateway === r.gw)))
          throw new CniError(CODE.failed, `route ${r.dst} via ${r.gw ?? '?'} is missing on ${ep.ifname} in ${env.netns}`);
      }
    } finally {
      await inside.close();
    }
    const mine = status.drift.filter(
      (d) => d.subject === ep.hostIfname || d.subject === ep.container || ['table', 'chain', 'set', 'bridge'].includes(d.kind),
    );
    if (mine.length > 0)
      throw new CniError(
        CODE.failed,
        `the kernel differs from nftbridge's state`,
        mine.map((d) => `${d.kind} ${d.subject}: ${d.reason}`).join('; '),
      );
  } finally {
    await host.release();
  }
}

/** Every attachment of this network not in `cni.dev/valid-attachments` is removed. */
export async function gc(conf: CniConfig): Promise<void> {
  const valid = new Set((conf['cni.dev/valid-attachments'] ?? []).map((a) => `${a.containerID}\0${a.ifname}`));
  const host = await openHost(conf);
  try {
    const state = await host.state();
    for (const ep of state.endpoints.filter((e) => e.network === conf.name))
      if (!valid.has(`${ep.container}\0${ep.ifname}`)) await host.disconnect(conf.name, ep.container);
    await removeIfUnused(host, conf.name);
  } finally {
    await host.release();
  }
}

/** Ready when nft and ip run and the state can be read (code 50 otherwise). */
export async function status(conf: CniConfig): Promise<void> {
  let host: (Host & { release(): Promise<void> }) | undefined;
  try {
    host = await openHost(conf);
    await host.state();
    await host.runner.run('nft', ['--version']);
    await host.runner.run('ip', ['-V']);
  } catch (err) {
    throw new CniError(CODE.notAvailable, `nftbridge cannot work here: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await host?.release();
  }
}
