/** A long-lived child process as an Observable of its stdout lines; unsubscribing kills it. */
import { createInterface } from 'node:readline';
import { Observable } from 'rxjs';
import { MonitorExitedError } from '../errors.js';
import { defaultRunner, type Runner } from '../exec/runner.js';

export { MonitorExitedError };

export interface ChildInfo {
  pid: number;
  command: string;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  /** Writes to its stdin; only for a process started with `stdin: 'pipe'`. */
  send?: (text: string) => void;
}

export function processLines(
  command: string,
  argv: readonly string[],
  netns: string | undefined,
  onChild?: (c: ChildInfo) => void,
  runner: Pick<Runner, 'spawn'> = defaultRunner,
  stdin: 'pipe' | 'ignore' = 'ignore',
): Observable<string> {
  return new Observable<string>((subscriber) => {
    const child = runner.spawn(command, argv, { ...(netns ? { netns } : {}), stdin });
    const input = stdin === 'pipe' ? child.stdin : null;
    // A write after the process ended fails on the pipe; the exit is reported above instead.
    input?.on('error', () => undefined);
    const send = input ? (text: string) => void input.write(text) : undefined;
    let stopping = false;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-2000)));
    const exited = child.then(
      (r) => {
        if (!stopping) subscriber.error(new MonitorExitedError([command, ...argv].join(' '), r.exitCode, stderr));
      },
      (err: unknown) => {
        if (!stopping) subscriber.error(err);
      },
    );
    if (child.pid !== undefined) onChild?.({ pid: child.pid, command: [command, ...argv].join(' '), exited, ...(send ? { send } : {}) });
    if (child.stdout) createInterface({ input: child.stdout }).on('line', (line) => subscriber.next(line));
    return () => {
      stopping = true;
      child.kill('SIGTERM');
      // A process that ignores SIGTERM still goes.
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      void exited.finally(() => clearTimeout(timer));
    };
  });
}
