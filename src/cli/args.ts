/** Command-line parsing: options anywhere, `--opt value` or `--opt=value`, validated per command. */
import { z } from 'zod';
import { ValidationError } from '../errors.js';

export interface OptionSpec {
  /** Takes a value; `repeat` collects every occurrence. */
  value?: boolean;
  repeat?: boolean;
}

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  netns: { value: true },
  'state-dir': { value: true },
  json: {},
  help: {},
};

export interface ParsedArgs {
  positionals: string[];
  options: Record<string, string | string[] | true>;
}

export function parseArgs(argv: readonly string[], allowed: Record<string, OptionSpec>): ParsedArgs {
  const specs = { ...GLOBAL_OPTIONS, ...allowed };
  const positionals: string[] = [];
  const options: ParsedArgs['options'] = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '-') {
      if (arg === '-h') options.help = true;
      else positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const spec = specs[name];
    if (!spec) throw new ValidationError(`--${name}`, 'unknown option');
    if (!spec.value) {
      if (eq > 0) throw new ValidationError(`--${name}`, 'takes no value');
      options[name] = true;
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new ValidationError(`--${name}`, 'needs a value');
    if (spec.repeat) options[name] = [...((options[name] as string[] | undefined) ?? []), value];
    else if (options[name] !== undefined) throw new ValidationError(`--${name}`, 'given more than once');
    else options[name] = value;
  }
  return { positionals, options };
}

export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.options[name];
  return typeof v === 'string' ? v : undefined;
}

export function list(args: ParsedArgs, name: string): string[] {
  const v = args.options[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.options[name] === true;
}

export function int(args: ParsedArgs, name: string): number | undefined {
  const v = str(args, name);
  if (v === undefined) return undefined;
  const parsed = z.coerce.number().int().safeParse(v);
  if (!/^\d+$/.test(v) || !parsed.success) throw new ValidationError(`--${name}`, `"${v}" is not a whole number`);
  return parsed.data;
}

/** Exactly `names.length` positionals, or `min` and more when `rest` is set. */
export function positionals(args: ParsedArgs, names: string[], rest?: string): string[] {
  const p = args.positionals;
  if (p.length < names.length + (rest ? 1 : 0)) {
    const missing = p.length < names.length ? names[p.length] : rest;
    throw new ValidationError(missing ?? 'argument', 'missing');
  }
  if (!rest && p.length > names.length) throw new ValidationError(p[names.length] ?? 'argument', 'unexpected argument');
  for (const [i, v] of p.entries()) if (v === '') throw new ValidationError(names[i] ?? rest ?? 'argument', 'is empty');
  return p;
}
