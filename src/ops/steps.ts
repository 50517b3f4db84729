/** The kernel-changing steps nftbridge composes into operations, each with its undo. */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { BatchError, ConflictError, isAlreadyExists, isBridgeFull, isNotFound, NotFoundError } from '../errors.js';
import type { Runner } from '../exec/runner.js';
import type { Ip, IpArgs } from '../ip/ip.js';
import { setSysctl } from '../ip/sysctl.js';
import { kernelNamespaces, type NamespaceProbe } from '../ip/netns.js';
import { parseCidr } from '../topology/cidr.js';
import type { Container, Endpoint, Network, State } from '../topology/state.js';
import type { Firewall } from '../firewall/firewall.js';
import type { Step } from './operation.js';
import { deleteOwnedLinks, markArgs } from './ownership.js';

const ignoreMissing = async (p: Promise<void>) => {
  try {
    await p;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
};

/** A random locally administered unicast MAC (02:xx:xx:xx:xx:xx). */
const bridgeMac = () => ['02', ...[...randomBytes(5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');

/** Bridge with its gateway addresses, up; IPv6 router advertisements from containers are ignored. */
export function bridgeStep(runner: Runner, ip: Ip, net: Network, mark: string): Step {
  const lines: IpArgs[] = [
    ['link', 'add', 'name', net.bridge, ...(net.mtu ? ['mtu', String(net.mtu)] : []), 'type', 'bridge'],
    markArgs(net.bridge, mark),
    // A MAC of its own, as Docker gives its bridges: otherwise the bridge takes the lowest MAC of
    // its ports and changes it as containers come and go, which flushes the host's neighbour
    // entries on it and leaves the containers' ARP caches pointing at the old gateway MAC.
    ['link', 'set', 'dev', net.bridge, 'address', bridgeMac()],
  ];
  for (const s of net.subnets) {
    const c = parseCidr('subnet', s.cidr);
    lines.push(['addr', 'add', `${s.gateway}/${c.prefix}`, 'dev', net.bridge, ...(c.family === 6 ? ['nodad'] : [])]);
  }
  lines.push(['link', 'set', 'dev', net.bridge, 'up']);
  return {
    name: 'bridge',
    detail: `${net.bridge} ${net.subnets.map((s) => `${s.gateway}/${s.cidr.split('/')[1]}`).join(' ')}`,
    run: async () => {
      if (net.subnets.some((s) => s.cidr.includes(':'))) {
        // Set before addresses exist so the bridge never accepts a router advertisement.
        await ip.run(lines[0] ?? []).catch((err: unknown) => {
          if (isAlreadyExists(err)) throw new ConflictError('bridge', `an interface named ${net.bridge} already exists`);
          throw err;
        });
        await setSysctl(runner, ip.netns, ['net', 'ipv6', 'conf', net.bridge, 'accept_ra'], '0');
        await ip.batch(lines.slice(1));
      } else {
        await ip.batch(lines).catch((err: unknown) => {
          if (err instanceof BatchError && err.line === 0 && isAlreadyExists(err))
            throw new ConflictError('bridge', `an interface named ${net.bridge} already exists`);
          throw err;
        });
      }
      // The host's 127.0.0.1 may reach containers through published ports (the table drops any
      // other use of it).
      await setSysctl(runner, ip.netns, ['net', 'ipv4', 'conf', net.bridge, 'route_localnet'], '1');
    },
    // Also when the step itself failed midway (an address refused): only a bridge with our mark goes.
    undo: async () => void (await deleteOwnedLinks(ip, [net.bridge], mark)),
    undoOnFailure: true,
  };
}

/** Removes links this state made (their mark says so); others of those names are left alone. */
export function removeLinksStep(ip: Ip, names: readonly string[], stepName: string, mark: string): Step {
  const step: Step = {
    name: stepName,
    detail: names.join(' '),
    run: async () => {
      const foreign = await deleteOwnedLinks(ip, names, mark);
      // The progress event is sent after the step ran, so it says what was left.
      if (foreign.length > 0)
        step.detail = `${names.filter((n) => !foreign.includes(n)).join(' ') || '(none)'}; left ${foreign.join(' ')} alone: not made by nftbridge for this state`;
    },
  };
  return step;
}

/** Forwarding on in the host namespace; left on at teardown, as Docker does. */
export function forwardingStep(runner: Runner, netns: string | undefined, families: ReadonlySet<4 | 6>): Step {
  return {
    name: 'forwarding',
    detail: [...families].map((f) => (f === 4 ? 'net.ipv4.ip_forward=1' : 'net.ipv6.conf.all.forwarding=1')).join(' '),
    run: async () => {
      if (families.has(4)) await setSysctl(runner, netns, ['net', 'ipv4', 'ip_forward'], '1');
      if (families.has(6)) await setSysctl(runner, netns, ['net', 'ipv6', 'conf', 'all', 'forwarding'], '1');
    },
  };
}

/**
 * A named container namespace is created when missing (and remembered, so `down` removes only ours).
 * `nsIp` is an `ip` in the current namespace: `ip netns add` run under `ip -n` would mount the new
 * namespace in that process's private mount namespace, where nobody else sees it.
 */
export function netnsStep(nsIp: Ip, container: Container, probe: NamespaceProbe = kernelNamespaces): Step {
  return {
    name: 'netns',
    detail: container.netns,
    run: async () => {
      if (!container.created) {
        if (probe.identity(container.netns) === undefined)
          throw new NotFoundError('container', `namespace ${container.netns} does not exist`);
        return;
      }
      await mkdir('/run/netns', { recursive: true }).catch(() => undefined);
      await nsIp.run(['netns', 'add', container.name]);
    },
    undo: async () => {
      if (container.created) await ignoreMissing(nsIp.run(['netns', 'del', container.name]));
    },
  };
}

/** Port flags: hairpin for published ports reached through the host, isolation when ICC is off. */
export function bridgePortArgs(net: Network, hostIfname: string): IpArgs {
  return ['link', 'set', 'dev', hostIfname, 'type', 'bridge_slave', 'hairpin', 'on', 'isolated', net.icc ? 'off' : 'on'];
}

/** The veth pair is created with its peer directly in the container: no move, one process. */
export function vethStep(hostIp: Ip, net: Network, ep: Endpoint, containerNetns: string, mark: string): Step {
  const mtu = net.mtu ? ['mtu', String(net.mtu)] : [];
  const peer = ['peer', 'name', ep.ifname, ...(ep.mac ? ['address', ep.mac] : []), ...mtu, 'netns', containerNetns];
  return {
    name: 'veth',
    detail: `${ep.hostIfname} <-> ${ep.container}:${ep.ifname}`,
    run: async () => {
      await hostIp
        .batch([
          ['link', 'add', 'name', ep.hostIfname, ...mtu, 'type', 'veth', ...peer],
          markArgs(ep.hostIfname, mark),
          ['link', 'set', 'dev', ep.hostIfname, 'master', net.bridge, 'up'],
          bridgePortArgs(net, ep.hostIfname),
        ])
        .catch((err: unknown) => {
          if (err instanceof BatchError && err.line === 0 && isAlreadyExists(err))
            throw new ConflictError('ifname', `${ep.ifname} already exists in container "${ep.container}"`);
          if (isBridgeFull(err))
            throw new ConflictError(
              'network',
              `bridge ${net.bridge} has no free port: a Linux bridge takes at most 1023 ports (BR_MAX_PORTS)`,
            );
          throw err;
        });
    },
    undo: async () => void (await deleteOwnedLinks(hostIp, [ep.hostIfname], mark)),
    undoOnFailure: true,
  };
}

/** Inside the container: loopback up, addresses, link up, and the default route when wanted. */
export function containerStep(containerIp: Ip, net: Network, ep: Endpoint, defaultRoute: boolean, mark: string): Step {
  // The container side is marked too: a repair only ever replaces a leftover of ours.
  const lines: IpArgs[] = [['link', 'set', 'lo', 'up'], markArgs(ep.ifname, mark)];
  for (const addr of ep.addresses) {
    const subnet = net.subnets.find((s) => s.cidr.includes(':') === addr.includes(':'));
    const len = subnet?.cidr.split('/')[1] ?? (addr.includes(':') ? '64' : '24');
    lines.push(['addr', 'add', `${addr}/${len}`, 'dev', ep.ifname, ...(addr.includes(':') ? ['nodad'] : [])]);
  }
  lines.push(['link', 'set', 'dev', ep.ifname, 'up']);
  const routes: IpArgs[] = defaultRoute ? net.subnets.map((s) => ['route', 'add', 'default', 'via', s.gateway, 'dev', ep.ifname]) : [];
  return {
    name: 'container',
    detail: `${ep.container}:${ep.ifname} ${ep.addresses.join(' ')}${defaultRoute ? ` via ${net.subnets.map((s) => s.gateway).join(' ')}` : ''}`,
    run: async () => {
      try {
        await containerIp.batch([...lines, ...routes]);
      } catch (err) {
        // A default route the container already has is its owner's choice: keep it.
        if (!(err instanceof BatchError && err.line >= lines.length && isAlreadyExists(err))) throw err;
        for (const r of routes.slice(err.line - lines.length + 1))
          await containerIp.run(r).catch((e: unknown) => {
            if (!isAlreadyExists(e)) throw e;
          });
      }
    },
    // Deleting the veth (the step before) takes addresses and routes with it.
  };
}

/** Deletes a named namespace nftbridge created; one already gone is fine. */
export function removeNetnsStep(nsIp: Ip, box: Container): Step {
  return { name: 'netns', detail: `delete ${box.name}`, run: () => ignoreMissing(nsIp.run(['netns', 'del', box.name])) };
}

/** The anti-spoofing elements of endpoints (firewall/antispoof.ts), added or removed, undone the other way. */
export function sourcesStep(
  firewall: Firewall,
  how: 'add' | 'remove',
  eps: readonly Endpoint[],
  withEp: State,
  without: State,
  /** What the tables hold before and after, when not `without`/`withEp` (a step of several). */
  tokens: { before: object; after: object } = how === 'add' ? { before: without, after: withEp } : { before: withEp, after: without },
): Step {
  const forward = { from: tokens.before, to: tokens.after };
  const back = { from: tokens.after, to: tokens.before };
  const add = () => firewall.addEndpoints(withEp, eps, how === 'add' ? forward : back);
  const remove = () => firewall.removeEndpoints(eps, without, how === 'remove' ? forward : back);
  const ifnames = eps.map((ep) => ep.hostIfname).join(' ');
  return {
    name: 'firewall',
    detail:
      how === 'add' ? `source addresses ${eps.flatMap((ep) => ep.addresses).join(' ')} on ${ifnames}` : `source addresses of ${ifnames}`,
    run: how === 'add' ? add : remove,
    undo: how === 'add' ? remove : add,
  };
}
