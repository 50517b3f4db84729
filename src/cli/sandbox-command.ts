/** `nftbridge sandbox -- COMMAND...`: runs a command where it can create namespaces without leaving any behind. */
import { spawnSync } from 'node:child_process';
import type { Command } from './commands.js';
import { NftbridgeError, ValidationError } from '../errors.js';
import { canSandbox, inSandbox, prepareSandbox, runSandboxed, SANDBOX_ENV } from '../lab/sandbox.js';

export const sandboxCommand: Command = {
  usage: 'sandbox -- COMMAND [ARG...]',
  summary: 'run a command in a disposable user + network + mount namespace',
  run: async (args, _io) => {
    const argv = args.positionals;
    if (argv.length === 0) throw new ValidationError('COMMAND', 'missing');
    if (process.env[SANDBOX_ENV] === 'pending') prepareSandbox();
    else if (!inSandbox()) {
      // Never the real namespace: a command meant for a sandbox may flush rulesets or delete links.
      if (!canSandbox())
        throw new NftbridgeError('sandbox: cannot create a user + network + mount namespace here (unshare -rnm failed); nothing was run');
      return runSandboxed([process.execPath, ...process.execArgv, process.argv[1] ?? '', 'sandbox', '--', ...argv]);
    }
    const r = spawnSync(argv[0] ?? '', argv.slice(1), { stdio: 'inherit', env: process.env });
    if (r.error) throw new ValidationError('COMMAND', r.error.message);
    return r.status ?? 1;
  },
};
