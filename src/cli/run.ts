/**
 * The nftbridge command line: parsing, help and dispatch on commander; values are still checked
 * by each command (and zod) so bad input is one line naming the field, exit 2. `main` returns
 * the exit code.
 */
import { readFileSync } from 'node:fs';
import { Command as Program, CommanderError, Option } from 'commander';
import { NftbridgeError, ValidationError } from '../errors.js';
import { GLOBAL_OPTIONS, OPTION_HELP, type OptionSpec, type ParsedArgs } from './args.js';
import { type Command, commands, type Io } from './commands.js';
import { demoCommand } from './demo-command.js';
import { networkCommands } from './network-commands.js';
import { portCommand } from './port-command.js';
import { toolCommands } from './tool-commands.js';
import { sandboxCommand } from './sandbox-command.js';
import { watchCommand } from './watch.js';

const all: Record<string, Command> = {
  ...networkCommands,
  ...commands,
  port: portCommand,
  ...toolCommands,
  watch: watchCommand,
  demo: demoCommand,
  sandbox: sandboxCommand,
};

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Declares an option of ours on a commander command; `no-X` flags are commander's negations. */
function declare(cmd: Program, name: string, spec: OptionSpec): void {
  const flags = `${spec.short ? `-${spec.short}, ` : ''}--${name}`;
  const help = OPTION_HELP[name];
  if (!spec.value) cmd.addOption(new Option(flags, help));
  else if (spec.repeat) cmd.addOption(new Option(`${flags} <value>`, help).argParser(collect));
  else cmd.addOption(new Option(`${flags} <value>`, help));
}

/** Commander's parse back into the shape the commands take: positionals and options by their CLI names. */
function parsed(cmd: Program, specs: Record<string, OptionSpec>, positionals: string[]): ParsedArgs {
  const opts = cmd.optsWithGlobals<Record<string, unknown>>();
  const options: ParsedArgs['options'] = {};
  for (const [name, spec] of Object.entries({ ...GLOBAL_OPTIONS, ...specs })) {
    const negated = name.startsWith('no-');
    const value = opts[camel(negated ? name.slice(3) : name)];
    if (negated) {
      if (value === false) options[name] = true;
    } else if (spec.value && (typeof value === 'string' || Array.isArray(value))) options[name] = value as string | string[];
    else if (!spec.value && value === true) options[name] = true;
  }
  return { positionals, options };
}

function program(io: Io, done: (code: number) => void): Program {
  const root = new Program('nftbridge')
    .description('Docker-style bridge networking on nftables')
    .usage('[--netns NAME] [--state-dir DIR] [--json] COMMAND ...')
    .version(version, '--version', 'print the version')
    .option('--netns <name>', 'the host namespace (a name or a path; default $NFTBRIDGE_NETNS, or the current one)')
    .option('--state-dir <dir>', 'where the desired state lives (default $NFTBRIDGE_STATE_DIR or /var/lib/nftbridge)')
    .option(
      '--host-firewall <mode>',
      'auto (default): let nftbridge through firewalld, ufw and drop policies; off: leave them alone (default $NFTBRIDGE_HOST_FIREWALL)',
    )
    .option('--mark-mask <mask>', 'bits of the packet mark that carry the network marks (default $NFTBRIDGE_MARK_MASK or 0xff000000)')
    .option('--json', 'machine-readable output')
    .helpCommand('help [COMMAND]', 'help for a command')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.out(s.trimEnd()), outputError: () => undefined })
    // Commands are listed as their usage (NETWORK CONTAINER [--ip IP] ...), not commander's generic arguments.
    .configureHelp({ subcommandTerm: (c) => `${c.name()} ${c.usage()}`.trim(), showGlobalOptions: true });
  const groups = new Map<string, Program>();
  for (const [name, command] of Object.entries(all)) {
    const words = name.split(' ');
    let parent = root;
    if (words.length === 2) {
      const group = words[0] ?? '';
      parent =
        groups.get(group) ??
        root
          .command(group)
          .description(`${group} commands`)
          .usage('COMMAND ...')
          .exitOverride()
          .configureHelp({ subcommandTerm: (c) => `${c.name()} ${c.usage()}`.trim() });
      groups.set(group, parent);
    }
    const cmd = parent
      .command(words.at(-1) ?? name)
      .summary(command.summary)
      .description(command.summary)
      .usage(command.usage.split(' ').slice(words.length).join(' ') || ' ')
      .argument('[arguments...]')
      .allowExcessArguments()
      .exitOverride();
    for (const [opt, spec] of Object.entries(command.options ?? {})) declare(cmd, opt, spec);
    cmd.action(async (positionals: string[], _opts: unknown, self: Program) =>
      done(await command.run(parsed(self, command.options ?? {}, positionals), io)),
    );
  }
  return root;
}

/** A commander error as our one line: the field (option or command) and the reason. */
function commanderLine(err: CommanderError): string {
  const text = err.message
    .replace(/^error: /, '')
    .replace(/\n/g, ' ')
    .trim();
  const option = /'(--?[\w-]+)[^']*'/.exec(text)?.[1];
  if (err.code === 'commander.unknownCommand') {
    const name = /unknown command '([^']+)'/.exec(text)?.[1] ?? '?';
    const hint = /\(Did you mean ([^?]+)\?\)/.exec(text)?.[1];
    return `command: unknown command "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}`;
  }
  if (err.code === 'commander.unknownOption')
    return `${option ?? 'option'}: unknown option${/Did you mean ([^?]+)\?/.exec(text)?.[1] ? ` (did you mean ${/Did you mean ([^?]+)\?/.exec(text)?.[1]}?)` : ''}`;
  if (err.code === 'commander.optionMissingArgument') return `${option ?? 'option'}: needs a value`;
  return text;
}

/** With --json, an error is one JSON object on stderr: `{"error": {"field", "reason", "message"}}`. */
function reportError(io: Io, json: boolean, line: string, field?: string, reason?: string): void {
  if (!json) {
    io.err(`nftbridge: ${line}`);
    return;
  }
  const at = line.indexOf(': ');
  const f = field ?? (at > 0 ? line.slice(0, at) : null);
  io.err(JSON.stringify({ error: { field: f, reason: reason ?? (at > 0 ? line.slice(at + 2) : line), message: line } }));
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  let code = 0;
  const end = argv.indexOf('--');
  const json = (end < 0 ? argv : argv.slice(0, end)).includes('--json');
  try {
    if (argv.length === 0) {
      program(io, () => undefined).outputHelp();
      return 2;
    }
    await program(io, (c) => (code = c)).parseAsync([...argv], { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end here with exit 0; a group without its subcommand shows its help.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      if (err.code === 'commander.help' || err.code === 'commander.executeSubCommandAsync') return err.exitCode === 0 ? 0 : 2;
      reportError(io, json, commanderLine(err));
      return 2;
    }
    if (err instanceof ValidationError) {
      reportError(io, json, err.message.split('\n')[0] ?? '', err.field, err.reason);
      return 2;
    }
    if (err instanceof NftbridgeError) {
      reportError(io, json, err.message.split('\n')[0] ?? '', undefined, err.message.split('\n')[0]);
      return 1;
    }
    reportError(io, json, err instanceof Error ? (err.stack ?? err.message) : String(err));
    return 1;
  }
}
