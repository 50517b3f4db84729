/** Writes sysctls of one network namespace; /proc/sys/net belongs to the namespace of whoever opens it. */
import { writeFile } from 'node:fs/promises';
import type { Runner } from '../exec/runner.js';

export async function setSysctl(runner: Runner, netns: string | undefined, key: readonly string[], value: string): Promise<void> {
  // Segments, not a dotted key: interface names may contain dots.
  const path = `/proc/sys/${key.join('/')}`;
  if (netns === undefined) return writeFile(path, value);
  // tee (coreutils) exists everywhere, unlike procps' sysctl, and takes the value on stdin.
  await runner.run('tee', [path], { input: value, netns });
}
