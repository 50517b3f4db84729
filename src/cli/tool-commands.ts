/** `graph` and `completion`: the topology as a picture, and shell completion. */
import { ValidationError } from '../errors.js';
import { positionals, str } from './args.js';
import { type Command, withHost } from './commands.js';
import { completionScripts } from './completion.js';
import { toDot, toMermaid, type Uplink } from './graph.js';
import { DEFAULT_CNI_DIR, installPlugin } from '../cni/install.js';

export const toolCommands: Record<string, Command> = {
  graph: {
    usage: 'graph [--format dot|mermaid]',
    summary: 'the topology as Graphviz dot (default; `| dot -Tsvg`) or a Mermaid flowchart',
    options: { format: { value: true } },
    run: (args, io) => {
      positionals(args, []);
      const format = str(args, 'format') ?? 'dot';
      if (format !== 'dot' && format !== 'mermaid') throw new ValidationError('--format', `"${format}" is not dot or mermaid`);
      return withHost(args, async (host) => {
        const state = await host.state();
        const ours = new Set([...state.networks.map((n) => n.bridge), ...state.endpoints.map((e) => e.hostIfname)]);
        // The host's own links with addresses (its uplinks), not nftbridge's and not loopback.
        const uplinks: Uplink[] = (await host.ip.addresses())
          .filter((l) => l.ifname !== 'lo' && !ours.has(l.ifname) && l.ifalias !== host.mark)
          .map((l) => ({
            name: l.ifname,
            addresses: l.addr_info.filter((a) => !a.local.startsWith('fe80')).map((a) => `${a.local}/${a.prefixlen}`),
          }))
          .filter((u) => u.addresses.length > 0);
        const name = host.netns ?? 'current namespace';
        io.out(format === 'dot' ? toDot(state, name, uplinks) : toMermaid(state, name, uplinks));
        return 0;
      });
    },
  },
  'cni install': {
    usage: 'cni install [--dir DIR] [--run-dir DIR]',
    summary: 'install the CNI plugin as DIR/nftbridge (default /opt/cni/bin), for "type": "nftbridge" in a conflist',
    options: { dir: { value: true }, 'run-dir': { value: true } },
    run: async (args, io) => {
      positionals(args, []);
      const runDir = str(args, 'run-dir');
      if (runDir !== undefined && !runDir.startsWith('/')) throw new ValidationError('--run-dir', `"${runDir}" must be an absolute path`);
      const { path, changed } = await installPlugin(str(args, 'dir') ?? DEFAULT_CNI_DIR, runDir);
      io.out(`${path}${changed ? '' : ' (already installed)'}`);
      return 0;
    },
  },
  completion: {
    usage: 'completion bash|zsh|fish',
    summary: 'print a shell completion script (networks and containers come from the state)',
    options: { list: { value: true } },
    run: async (args, io) => {
      const what = str(args, 'list');
      if (what !== undefined) {
        // Used by the scripts themselves: the names to offer.
        if (what !== 'networks' && what !== 'containers') throw new ValidationError('--list', `"${what}" is not networks or containers`);
        return withHost(args, async (host) => {
          const state = await host.state();
          for (const n of what === 'networks' ? state.networks.map((x) => x.name) : state.containers.map((c) => c.name)) io.out(n);
          return 0;
        });
      }
      const [shell = ''] = positionals(args, ['SHELL']);
      const script = completionScripts[shell];
      if (!script) throw new ValidationError('SHELL', `"${shell}" is not bash, zsh or fish`);
      io.out(script.trimEnd());
      return 0;
    },
  },
};
