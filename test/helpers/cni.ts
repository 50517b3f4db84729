/** Test helpers for the CNI plugin. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Stops every resident helper of a run directory, by the PID it wrote next to its socket. */
export async function stopHelpers(runDir: string | undefined): Promise<void> {
  if (!runDir) return;
  const names = await readdir(runDir).catch((): string[] => []);
  for (const f of names.filter((n) => n.endsWith('.sock.pid'))) {
    const pid = Number((await readFile(join(runDir, f), 'utf8')).trim());
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
  }
}
