/** The nftbridge command line: a thin layer over the public API; `main` returns the exit code. */
import { NftbridgeError, ValidationError } from '../errors.js';
import { parseArgs, type OptionSpec } from './args.js';
import { commands, type Command, type Io } from './commands.js';
import { demoCommand } from './demo-command.js';
import { sandboxCommand } from './sandbox-command.js';
import { watchCommand } from './watch.js';

const all: Record<string, Command> = { ...commands, watch: watchCommand, demo: demoCommand, sandbox: sandboxCommand };

function usage(): string {
  return [
    'usage: nftbridge [--netns NAME] [--state-dir DIR] [--json] COMMAND ...',
    '',
    'commands:',
    ...Object.values(all).map((c) => `  ${c.usage}`),
  ].join('\n');
}

function find(words: string[]): [string, Command] | undefined {
  const two = words.slice(0, 2).join(' ');
  if (all[two]) return [two, all[two]];
  const one = words[0] ?? '';
  return all[one] && one !== 'network' ? [one, all[one]] : undefined;
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  try {
    const union: Record<string, OptionSpec> = Object.assign({}, ...Object.values(all).map((c) => c.options ?? {}));
    const first = parseArgs(argv, union);
    if (first.positionals.length === 0) {
      io.out(usage());
      return first.options.help ? 0 : 2;
    }
    const found = find(first.positionals);
    if (!found)
      throw new ValidationError(
        'command',
        `unknown command "${first.positionals.slice(0, first.positionals[0] === 'network' ? 2 : 1).join(' ')}"`,
      );
    const [name, command] = found;
    if (first.options.help) {
      io.out(`usage: nftbridge ${command.usage}`);
      return 0;
    }
    const args = parseArgs(argv, command.options ?? {});
    args.positionals.splice(0, name.split(' ').length);
    return await command.run(args, io);
  } catch (err) {
    if (err instanceof NftbridgeError) {
      io.err(`nftbridge: ${err.message.split('\n')[0]}`);
      return err instanceof ValidationError ? 2 : 1;
    }
    io.err(`nftbridge: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  }
}
