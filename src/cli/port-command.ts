/** `nftbridge port CONTAINER [PORT[/PROTO]]`: a container's published ports, as `docker port` prints them. */
import { NotFoundError, ValidationError } from '../errors.js';
import { positionals } from './args.js';
import { type Command, withHost } from './commands.js';
import { portLines } from './inspect.js';

export const portCommand: Command = {
  usage: 'port CONTAINER [PORT[/PROTO]]',
  summary: 'list a container\'s published ports ("80/tcp -> 0.0.0.0:8080"), or the host side of one',
  run: (args, io) => {
    const p = args.positionals;
    if (p.length > 2) throw new ValidationError(p[2] ?? 'argument', 'unexpected argument');
    const [container = '', spec] = positionals({ ...args, positionals: p.slice(0, 1) }, ['CONTAINER']).concat(p.slice(1));
    let only: { port: number; protocol: string } | undefined;
    if (spec !== undefined) {
      const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(spec);
      if (!m) throw new ValidationError('PORT', `"${spec}" is not PORT or PORT/tcp|udp`);
      only = { port: Number(m[1]), protocol: m[2] ?? 'tcp' };
    }
    return withHost(args, async (host) => {
      const state = await host.state();
      if (!state.endpoints.some((e) => e.container === container))
        throw new NotFoundError('container', `"${container}" is not connected to any network`);
      const lines = portLines(state, container, only);
      if (only && lines.length === 0)
        throw new NotFoundError('PORT', `no public port ${only.port}/${only.protocol} published for "${container}"`);
      if (args.options.json) io.out(JSON.stringify(lines));
      else for (const l of lines) io.out(only ? l.host : `${l.containerPort} -> ${l.host}`);
      return 0;
    });
  },
};
