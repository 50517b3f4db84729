/** iproute2 in one namespace: single commands, batches through one process, and `ip -j` readers. */
import { z } from 'zod';
import { CommandError, SchemaError } from '../errors.js';
import type { Runner } from '../exec/runner.js';
import { addrSchema, linkSchema, routeSchema, type Link, type LinkAddresses, type Route } from './schema.js';

export type IpArgs = readonly string[];

/** A batch line failed; `line` is its 0-based index, so callers know which steps took effect. */
export class BatchError extends CommandError {
  constructor(
    readonly line: number,
    readonly lines: readonly IpArgs[],
    cause: CommandError,
  ) {
    super('ip', ['-batch', '-', `(line ${line + 1}: ${lines[line]?.join(' ') ?? '?'})`], cause.exitCode, cause.stderr, { cause });
  }
}

function parseJson<T>(source: string, schema: z.ZodType<T>, text: string): T {
  const parsed = schema.safeParse(JSON.parse(text || '[]'));
  if (!parsed.success) throw new SchemaError(source, parsed.error.issues);
  return parsed.data;
}

export class Ip {
  constructor(
    private readonly runner: Runner,
    /** Namespace path; the current namespace when absent. */
    readonly netns?: string,
  ) {}

  async run(args: IpArgs): Promise<void> {
    await this.runner.run('ip', args, { netns: this.netns });
  }

  /** Several commands in one process: the cheapest way through iproute2. Stops at the first failure. */
  async batch(lines: readonly IpArgs[]): Promise<void> {
    if (lines.length === 0) return;
    if (lines.length === 1 && lines[0]) return this.run(lines[0]);
    for (const l of lines) if (l.some((a) => /[\s"'\\#]/.test(a))) throw new CommandError('ip', ['-batch'], undefined, `argument unsafe for a batch line: ${l.join(' ')}`);
    try {
      await this.runner.run('ip', ['-batch', '-'], { input: lines.map((l) => l.join(' ')).join('\n') + '\n', netns: this.netns });
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      const m = /Command failed -:(\d+)/.exec(err.stderr);
      throw new BatchError(m?.[1] ? Number(m[1]) - 1 : 0, lines, err);
    }
  }

  async links(): Promise<Link[]> {
    const { stdout } = await this.runner.run('ip', ['-j', '-d', 'link', 'show'], { netns: this.netns });
    return parseJson('ip -j link show', z.array(linkSchema), stdout);
  }

  async addresses(): Promise<LinkAddresses[]> {
    const { stdout } = await this.runner.run('ip', ['-j', 'addr', 'show'], { netns: this.netns });
    return parseJson('ip -j addr show', z.array(addrSchema), stdout);
  }

  async routes(family: 4 | 6 = 4): Promise<Route[]> {
    const { stdout } = await this.runner.run('ip', [`-${family}`, '-j', 'route', 'show'], { netns: this.netns });
    return parseJson('ip -j route show', z.array(routeSchema), stdout);
  }
}
