/**
 * What an operation is about to create, written before it touches the kernel and removed once the
 * state records the result (or the rollback removed it). A file left behind means its writer was
 * killed midway: the next process that takes the lock removes what it names that the state does
 * not know, so nothing outlives a kill -9 unknown (and IPAM never hands out an address an orphan
 * still holds).
 */
import { closeSync, constants, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { z } from 'zod';

const intentSchema = z.object({
  op: z.string(),
  pid: z.number(),
  /** Links in the host namespace the operation creates (bridges, host sides of veths). */
  links: z.array(z.string()).default([]),
  /** Named namespaces it creates. */
  netns: z.array(z.string()).default([]),
});
export type Intent = z.infer<typeof intentSchema>;

export class IntentLog {
  constructor(readonly file: string) {}

  /** The interrupted operation's intent, if a writer died; an unreadable file counts as empty. */
  read(): Intent | undefined {
    let text: string;
    try {
      const fd = openSync(this.file, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        text = readFileSync(fd, 'utf8');
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const parsed = intentSchema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data;
    } catch {
      // torn by the kill: the alias scan still finds its links
    }
    return { op: 'unknown', pid: 0, links: [], netns: [] };
  }

  /** Synchronous, so it is on disk (in the page cache, which a kill -9 does not lose) before the first kernel change. */
  write(intent: Omit<Intent, 'pid'>): void {
    const fd = openSync(this.file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, `${JSON.stringify({ ...intent, pid: process.pid })}\n`);
    } finally {
      closeSync(fd);
    }
  }

  clear(): void {
    rmSync(this.file, { force: true });
  }
}
