/** `nftbridge network ...`: create, inspect, ls, rm and prune, as `docker network` has them. */
import { createInterface } from 'node:readline/promises';
import { NftbridgeError, ValidationError } from '../errors.js';
import type { Network, State } from '../topology/state.js';
import { flag, int, list, positionals, str } from './args.js';
import { type Command, runOperation, withHost } from './commands.js';
import { formatNetworks } from './format.js';
import { inspectNetwork } from './inspect.js';

/** KEY=VALUE pairs of `--label` (a bare KEY has an empty value, as in Docker). */
function labels(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const at = v.indexOf('=');
    const key = at < 0 ? v : v.slice(0, at);
    if (key === '') throw new ValidationError('--label', `"${v}" has no key (KEY=VALUE)`);
    out[key] = at < 0 ? '' : v.slice(at + 1);
  }
  return out;
}

/** `--filter name=...` (part of the name) and `--filter label=KEY[=VALUE]`: one key's values OR, keys AND. */
function filtered(networks: readonly Network[], filters: readonly string[]): Network[] {
  const by = new Map<string, string[]>();
  for (const f of filters) {
    const at = f.indexOf('=');
    const key = at < 0 ? f : f.slice(0, at);
    if (key !== 'name' && key !== 'label') throw new ValidationError('--filter', `"${f}": only name=... and label=KEY[=VALUE] are known`);
    by.set(key, [...(by.get(key) ?? []), at < 0 ? '' : f.slice(at + 1)]);
  }
  const label = (n: Network, want: string) => {
    const at = want.indexOf('=');
    const key = at < 0 ? want : want.slice(0, at);
    return n.labels?.[key] !== undefined && (at < 0 || n.labels[key] === want.slice(at + 1));
  };
  return networks.filter(
    (n) =>
      (by.get('name') ?? [undefined]).some((v) => v === undefined || n.name.includes(v)) &&
      (by.get('label') ?? [undefined]).some((v) => v === undefined || label(n, v)),
  );
}

const unused = (state: State) => state.networks.filter((n) => !state.endpoints.some((e) => e.network === n.name));

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export const networkCommands: Record<string, Command> = {
  'network create': {
    usage:
      'network create NAME --subnet CIDR [--subnet CIDR6] [--gateway IP]... [--bridge IFNAME] [--internal] [--no-icc] [--mtu N] [--label KEY=VALUE]...',
    summary: 'create a network: a bridge, its subnets and gateway, and its firewall rules',
    options: {
      subnet: { value: true, repeat: true },
      gateway: { value: true, repeat: true },
      bridge: { value: true },
      internal: {},
      'no-icc': {},
      mtu: { value: true },
      label: { value: true, repeat: true },
    },
    run: (args, io) => {
      const [name = ''] = positionals(args, ['NAME']);
      const subnet = list(args, 'subnet');
      if (subnet.length === 0) throw new ValidationError('--subnet', 'missing');
      const bridge = str(args, 'bridge');
      const mtu = int(args, 'mtu');
      const gateway = list(args, 'gateway');
      const input = {
        name,
        subnet,
        ...(gateway.length ? { gateway } : {}),
        ...(bridge !== undefined ? { bridge } : {}),
        internal: flag(args, 'internal'),
        icc: !flag(args, 'no-icc'),
        ...(mtu !== undefined ? { mtu } : {}),
        labels: labels(list(args, 'label')),
      };
      return withHost(args, (host) =>
        runOperation(
          args,
          io,
          `creating network ${name}`,
          host.createNetwork$(input),
          (n) => `network ${n.name} created: bridge ${n.bridge}, ${n.subnets.map((s) => `${s.cidr} gateway ${s.gateway}`).join(', ')}`,
        ),
      );
    },
  },
  'network inspect': {
    usage: 'network inspect NAME...',
    summary: 'describe networks as JSON: subnets, labels, and each container with its addresses and ports',
    run: (args, io) => {
      const names = positionals(args, [], 'NAME');
      return withHost(args, async (host) => {
        const state = await host.state();
        const found = names.map((n) => state.networks.find((x) => x.name === n) ?? n);
        const missing = found.find((x): x is string => typeof x === 'string');
        // Nothing on stdout for an unknown name, as `docker network inspect` (exit 1).
        if (missing !== undefined) throw new NftbridgeError(`network: no network named "${missing}"`);
        io.out(
          JSON.stringify(
            found.map((n) => inspectNetwork(state, n as Network, host.hostFirewall.options.mask)),
            null,
            2,
          ),
        );
        return 0;
      });
    },
  },
  'network ls': {
    usage: 'network ls [-q|--quiet] [-f|--filter name=NAME|label=KEY[=VALUE]]...',
    summary: 'list networks',
    options: { quiet: { short: 'q' }, filter: { value: true, repeat: true, short: 'f' } },
    run: (args, io) => {
      positionals(args, []);
      return withHost(args, async (host) => {
        const state = await host.state();
        const networks = filtered(state.networks, list(args, 'filter'));
        if (flag(args, 'quiet')) for (const n of networks) io.out(n.name);
        else io.out(flag(args, 'json') ? JSON.stringify(networks) : formatNetworks({ ...state, networks }));
        return 0;
      });
    },
  },
  'network rm': {
    usage: 'network rm NAME...',
    summary: 'remove networks that have no endpoints',
    run: (args, io) => {
      const names = positionals(args, [], 'NAME');
      return withHost(args, async (host) => {
        // Each one on its own, as `docker network rm`: a failure does not keep the others.
        let code = 0;
        for (const name of names) {
          try {
            await runOperation(args, io, `removing network ${name}`, host.removeNetwork$(name), (n) => `network ${n.name} removed`);
          } catch (err) {
            if (!(err instanceof NftbridgeError) || names.length === 1) throw err;
            io.err(`nftbridge: ${err.message.split('\n')[0]}`);
            code ||= err instanceof ValidationError ? 2 : 1;
          }
        }
        return code;
      });
    },
  },
  'network prune': {
    usage: 'network prune [-f|--force]',
    summary: 'remove every network with no endpoint (asks first on a terminal, unless --force)',
    options: { force: { short: 'f' } },
    run: (args, io) => {
      positionals(args, []);
      return withHost(args, async (host) => {
        const candidates = unused(await host.state());
        if (candidates.length > 0 && !flag(args, 'force') && process.stdin.isTTY) {
          const ok = await confirm(
            'WARNING! This will remove every network with no container on it. Are you sure you want to continue? [y/N] ',
          );
          if (!ok) return 0;
        }
        const removed: string[] = [];
        for (const net of candidates) {
          try {
            await host.removeNetwork(net.name);
            removed.push(net.name);
          } catch (err) {
            // Somebody connected a container meanwhile, or removed it: left out.
            if (!(err instanceof ValidationError)) throw err;
          }
        }
        if (flag(args, 'json')) io.out(JSON.stringify(removed));
        else for (const n of removed) io.out(n);
        return 0;
      });
    },
  },
};
