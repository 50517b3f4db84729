/** Each CLI command: its options, and a thin call into the public API. */
import { parseHostFirewallMode } from '../hostfw/options.js';
import { parseMarkMask } from '../hostfw/marks.js';
import type { Observable } from 'rxjs';
import { Host, type Status } from '../host.js';
import type { OperationEvent } from '../ops/operation.js';
import { flag, positionals, str, type OptionSpec, type ParsedArgs } from './args.js';
import { formatStatus, formatStep } from './format.js';

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface Command {
  usage: string;
  /** One line for `nftbridge --help`. */
  summary: string;
  options?: Record<string, OptionSpec>;
  run(args: ParsedArgs, io: Io): Promise<number>;
}

/** The schema version of `status --json`, and the state without nftbridge's internal fields. */
export const STATUS_JSON_VERSION = 1;
export function statusJson(status: Status) {
  const { generation: _generation, ...state } = status.state;
  return {
    version: STATUS_JSON_VERSION,
    state: { ...state, containers: state.containers.map(({ nsid: _nsid, ...c }) => c) },
    drift: status.drift,
    hostFirewall: status.hostFirewall,
  };
}

export const openHost = (args: ParsedArgs) => {
  // NFTBRIDGE_NETNS selects the host namespace as --netns does (as NFTBRIDGE_STATE_DIR does the state).
  const netns = str(args, 'netns') ?? (process.env.NFTBRIDGE_NETNS || undefined);
  const stateDir = str(args, 'state-dir');
  const mode = str(args, 'host-firewall');
  const mask = str(args, 'mark-mask');
  return Host.open({
    ...(netns !== undefined ? { netns } : {}),
    ...(stateDir !== undefined ? { stateDir } : {}),
    ...(mode !== undefined ? { hostFirewall: parseHostFirewallMode('host-firewall', mode) } : {}),
    ...(mask !== undefined ? { markMask: parseMarkMask('mark-mask', mask) } : {}),
  });
};

/** Runs an operation, printing each step as it happens, then the result. */
export async function runOperation<T>(
  args: ParsedArgs,
  io: Io,
  title: string,
  ops: Observable<OperationEvent<T>>,
  show: (r: T) => string,
): Promise<number> {
  const json = flag(args, 'json');
  if (!json) io.out(title);
  let result: T | undefined;
  await new Promise<void>((resolve, reject) =>
    ops.subscribe({
      next: (ev) => {
        if (ev.type === 'done') result = ev.result;
        else if (!json) io.out(formatStep(ev) ?? '');
      },
      error: reject,
      complete: resolve,
    }),
  );
  io.out(json ? JSON.stringify(result) : show(result as T));
  return 0;
}

export async function withHost<T>(args: ParsedArgs, fn: (host: Host) => Promise<T>): Promise<T> {
  const host = await openHost(args);
  try {
    return await fn(host);
  } finally {
    await host.close();
  }
}

export const commands: Record<string, Command> = {
  connect: {
    usage: 'connect NETWORK CONTAINER [--ip IP] [--ip6 IP6] [--ifname NAME] [--mac MAC]',
    summary: 'attach a container (a namespace name or path) to a network',
    options: { ip: { value: true }, ip6: { value: true }, ifname: { value: true }, mac: { value: true } },
    run: (args, io) => {
      const [network = '', container = ''] = positionals(args, ['NETWORK', 'CONTAINER']);
      const input = Object.fromEntries(
        ['ip', 'ip6', 'ifname', 'mac'].flatMap((k) => (str(args, k) !== undefined ? [[k, str(args, k)]] : [])),
      );
      return withHost(args, (host) =>
        runOperation(
          args,
          io,
          `connecting ${container} to ${network}`,
          host.connect$(network, container, input),
          (e) => `${e.container} connected to ${e.network}: ${e.ifname} ${e.addresses.join(' ')} (host side ${e.hostIfname})`,
        ),
      );
    },
  },
  disconnect: {
    usage: 'disconnect NETWORK CONTAINER',
    summary: 'detach a container from a network (its published ports go too)',
    run: (args, io) => {
      const [network = '', container = ''] = positionals(args, ['NETWORK', 'CONTAINER']);
      return withHost(args, (host) =>
        runOperation(
          args,
          io,
          `disconnecting ${container} from ${network}`,
          host.disconnect$(network, container),
          (e) => `${e.container} disconnected from ${e.network}`,
        ),
      );
    },
  },
  publish: {
    usage: 'publish NETWORK CONTAINER [HOST_IP:]HOST_PORT[-END]:CONTAINER_PORT[-END][/tcp|/udp]...',
    summary: 'publish container ports on the host, as docker run -p',
    run: (args, io) => {
      const [network = '', container = '', ...specs] = positionals(args, ['NETWORK', 'CONTAINER'], 'SPEC');
      return withHost(args, (host) =>
        runOperation(
          args,
          io,
          `publishing ${specs.join(' ')} to ${container}`,
          host.publish$(network, container, specs),
          (ps) => `published ${ps.length} mapping(s)`,
        ),
      );
    },
  },
  unpublish: {
    usage: 'unpublish NETWORK CONTAINER HOST_PORT[/PROTO]...',
    summary: 'remove published ports',
    run: (args, io) => {
      const [network = '', container = '', ...specs] = positionals(args, ['NETWORK', 'CONTAINER'], 'HOST_PORT');
      return withHost(args, (host) =>
        runOperation(
          args,
          io,
          `unpublishing ${specs.join(' ')} from ${container}`,
          host.unpublish$(network, container, specs),
          (ps) => `unpublished ${ps.length} mapping(s)`,
        ),
      );
    },
  },
  ruleset: {
    usage: 'ruleset',
    summary: 'print the nftables JSON document for the desired state; applies nothing',
    run: (args, io) => {
      positionals(args, []);
      return withHost(args, async (host) => {
        io.out(JSON.stringify(host.ruleset(), null, flag(args, 'json') ? undefined : 2));
        return 0;
      });
    },
  },
  apply: {
    usage: 'apply',
    summary: 'converge the kernel to the desired state (and remove orphans of interrupted operations)',
    run: (args, io) => {
      positionals(args, []);
      return withHost(args, (host) =>
        runOperation(
          args,
          io,
          'applying the desired state',
          host.apply$(),
          (doc) => `applied: ${doc.nftables.length} nftables commands in one transaction`,
        ),
      );
    },
  },
  status: {
    usage: 'status',
    summary: 'networks, endpoints, ports, and every difference from the kernel',
    run: (args, io) => {
      positionals(args, []);
      return withHost(args, async (host) => {
        const status = await host.status();
        io.out(flag(args, 'json') ? JSON.stringify(statusJson(status)) : formatStatus(status));
        return 0;
      });
    },
  },
  recover: {
    usage: 'recover',
    summary: 'make an unreadable state readable again, keeping what can be read',
    run: (args, io) => {
      positionals(args, []);
      return withHost(args, async (host) => {
        const { state, dropped } = await host.recover();
        if (flag(args, 'json'))
          io.out(
            JSON.stringify({ dropped, networks: state.networks.length, endpoints: state.endpoints.length, ports: state.ports.length }),
          );
        else {
          for (const d of dropped) io.out(`dropped: ${d}`);
          io.out(
            `state readable again (${state.networks.length} network(s), ${state.endpoints.length} endpoint(s), ${state.ports.length} port(s)); run "nftbridge apply" to converge the kernel to it`,
          );
        }
        return 0;
      });
    },
  },
  down: {
    usage: 'down',
    summary: 'remove everything nftbridge made',
    run: (args, io) => {
      positionals(args, []);
      return withHost(args, (host) =>
        runOperation(
          args,
          io,
          'removing everything nftbridge made',
          host.down$(),
          (s) => `removed ${s.networks.length} network(s), ${s.endpoints.length} endpoint(s)`,
        ),
      );
    },
  },
};
