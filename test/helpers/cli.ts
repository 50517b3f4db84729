/** Runs the built CLI as a user would (npm test builds dist/ first). */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI and fails with its stderr when it does not exit 0. */
export function cliOk(args: string[]): string {
  const r = cli(args);
  if (r.status !== 0) throw new Error(`nftbridge ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/**
 * The CLI without blocking this process: needed where this process holds the state lock at times
 * (a running controller), which a synchronous spawn would keep it from releasing.
 */
export async function cliAsync(args: string[]): Promise<CliResult> {
  const { execa } = await import('execa');
  const r = await execa(process.execPath, [CLI, ...args], { reject: false });
  return { status: r.exitCode ?? null, stdout: String(r.stdout), stderr: String(r.stderr) };
}
