/**
 * The tables' part of the host firewall's last look, kept next to the state for the next process:
 * a one-shot `nftbridge apply` or `connect` would otherwise list every other table's chains again
 * (README "Performance": "detection added to a one-shot apply"). It holds only while the ruleset
 * generation of the same namespace has not moved since, which the kernel counts for any change
 * by anyone; firewalld's own configuration is not in it (that is asked over D-Bus every time).
 * A cache: anything unreadable, or of another namespace, boot or mask, is a look like any other.
 */
import { z } from 'zod';
import { readText, replaceFile } from '../topology/files.js';
import { blockingChainSchema } from './detect.js';

const memoSchema = z.object({
  /** The namespace the generation is of (NftClient.generationsOf). */
  namespace: z.string(),
  gen: z.number().int(),
  mask: z.number().int(),
  firewalldTable: z.boolean(),
  viaDbus: z.boolean(),
  blocking: z.array(blockingChainSchema),
});
export type RememberedScan = z.infer<typeof memoSchema>;

export interface ScanMemo {
  load(): RememberedScan | undefined;
  save(scan: RememberedScan): void;
}

/** The memo as a file of the state directory (0600, never through a symlink, replaced whole). */
export class FileScanMemo implements ScanMemo {
  constructor(private readonly path: string) {}

  load(): RememberedScan | undefined {
    try {
      const text = readText(this.path);
      const parsed = text === undefined ? undefined : memoSchema.safeParse(JSON.parse(text));
      return parsed?.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  save(scan: RememberedScan): void {
    try {
      // Not synced: a look lost in a crash is only a look the next process takes again.
      replaceFile(this.path, JSON.stringify(scan), false);
    } catch {
      // A state directory not made yet, or full: the next process looks at the tables itself.
    }
  }
}
