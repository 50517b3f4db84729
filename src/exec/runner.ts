import { execa, type ResultPromise } from 'execa';
import { randomBytes } from 'node:crypto';
import { open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandError, NftError } from '../errors.js';

export interface RunOptions {
  /** Text written to the process's stdin (nft -f -, ip -batch -). */
  input?: string;
  /** Path of a network namespace to run in (via nsenter); the current one when absent. */
  netns?: string;
  /**
   * Hand `input` over as a regular file on stdin. nft opens /dev/stdin by path, which fails with
   * ENXIO on the socketpair Node uses for pipes.
   */
  inputAsFile?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface SpawnOptions {
  /** Path of a network namespace to run in; the current one when absent. */
  netns?: string;
  /** `pipe` for a session that takes requests on stdin; `ignore` for a monitor or a spare. */
  stdin?: 'pipe' | 'ignore';
  /** Collect stdout and stderr into the result (a spare nft's error message), instead of streaming them only. */
  buffer?: boolean;
}

/** A long-lived child as execa gives it: its streams, kill(), and a promise of its end. */
export type Child = ResultPromise;

/** The one seam through which nftbridge starts processes; tests of pure logic can script it. */
export interface Runner {
  /** Runs a command to its end. */
  run(command: string, argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  /**
   * Starts a long-lived child (a line session, a monitor, the spare nft, lab traffic) that dies
   * with its parent; it never rejects (the child's end is read from the result).
   */
  spawn(command: string, argv: readonly string[], options?: SpawnOptions): Child;
}

// ip and nft live in /usr/sbin, which is not on every user's PATH.
const PATH = [process.env.PATH ?? '', '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean).join(':');
/** The environment of every child: a PATH that finds ip and nft, and untranslated messages to parse. */
export const CHILD_ENV = { PATH, LC_ALL: 'C' } as const;

/**
 * nft's heap on transparent huge pages (glibc's `malloc.hugetlb`, which only advises the kernel,
 * so a host with THP off is unchanged). Loading a table of tens of thousands of set elements
 * grows nft's heap by some 20 MB one 4 KB page fault at a time; on a virtual machine a profile
 * put a third of the load's time in those faults and in malloc touching fresh pages (bench:
 * "watch on a large host", the two "nft -j -f" rows). Small documents touch no new memory, so
 * they cost the same.
 */
export function childEnv(command: string, inherited: string | undefined = process.env.GLIBC_TUNABLES): Record<string, string> {
  if (command !== 'nft') return { ...CHILD_ENV };
  const env = { ...CHILD_ENV, HOME: NFT_HOME };
  if (inherited?.includes('glibc.malloc.hugetlb')) return env;
  return { ...env, GLIBC_TUNABLES: [inherited, 'glibc.malloc.hugetlb=1'].filter(Boolean).join(':') };
}

/**
 * The HOME every nft runs with: a path under which no file can exist. `nft -i` loads
 * `$HOME/.nft.history` when it starts and writes its whole history back when it ends, and libedit
 * reads `$HOME/.editrc`. With the caller's HOME, every session nftbridge ran appended its requests
 * to the administrator's own history (95,000 lines and 14 MB after one day of tests here), the
 * next session loaded all of it, and libedit walks that history once per line read: a tiny
 * document took 3-8 ms instead of 0.5 (measured by hand; nft/session.ts renews the process for the
 * history a session makes itself).
 */
export const NFT_HOME = '/dev/null';

/**
 * Wraps a command so it runs inside a namespace without a shell. `ip` switches to a named
 * namespace itself (`ip -n NAME`), which saves starting nsenter as well.
 */
export function inNetns(command: string, argv: readonly string[], netns?: string): [string, string[]] {
  if (!netns) return [command, [...argv]];
  const named = /^\/run\/netns\/([^/]+)$/.exec(netns)?.[1];
  if (command === 'ip' && named) return ['ip', ['-n', named, ...argv]];
  return ['nsenter', [`--net=${netns}`, '--', command, ...argv]];
}

/**
 * A long-lived child that dies with its parent, also after a kill -9 of the parent (no exit
 * handler runs then): util-linux's setpriv sets PR_SET_PDEATHSIG and execs the command, so the
 * child keeps its PID and the signal survives the exec. Without it a spare `nft -f FIFO` blocked
 * on its open forever under PID 1, keeping the host namespace alive.
 */
export function dieWithParent([file, args]: [string, string[]]): [string, string[]] {
  return ['setpriv', ['--pdeathsig', 'KILL', '--', file, ...args]];
}

/** Runs commands with execa: argument arrays only, never a shell string. */
export class ExecaRunner implements Runner {
  spawn(command: string, argv: readonly string[], options: SpawnOptions = {}): Child {
    const [file, args] = dieWithParent(inNetns(command, argv, options.netns));
    return execa(file, args, {
      buffer: options.buffer ?? false,
      reject: false,
      env: childEnv(command),
      cleanup: true,
      stdin: options.stdin ?? 'ignore',
    });
  }

  async run(command: string, argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const [file, args] = inNetns(command, argv, options.netns);
    const fh = options.inputAsFile ? await stdinFile(options.input ?? '') : undefined;
    const common = { reject: false, env: childEnv(command), stripFinalNewline: false } as const;
    const result = await (fh
      ? execa(file, args, { ...common, stdin: fh.fd as unknown as 'pipe' }) // execa 9 passes an fd number through; its types omit it
      : execa(file, args, { ...common, input: options.input ?? '' })
    ).finally(() => fh?.close());
    if (result.exitCode !== 0 || result.failed) {
      const ErrorKind = command === 'nft' ? NftError : CommandError;
      const stderr = String(result.stderr ?? '') || String(result.message ?? '');
      throw new ErrorKind(command, argv, result.exitCode, stderr);
    }
    return { stdout: String(result.stdout), stderr: String(result.stderr) };
  }
}

/** An unlinked temp file, opened for reading: the child gets a real file descriptor, not a pipe. */
async function stdinFile(text: string): Promise<FileHandle> {
  const path = join(tmpdir(), `nftbridge-${process.pid}-${randomBytes(6).toString('hex')}`);
  await writeFile(path, text, { mode: 0o600 });
  try {
    return await open(path, 'r');
  } finally {
    await rm(path, { force: true });
  }
}

export const defaultRunner: Runner = new ExecaRunner();
