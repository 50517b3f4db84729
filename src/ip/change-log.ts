/**
 * Which keys (link names, namespace paths) a long-lived view changed since a version its reader
 * saw: what lets a check redo only what changed instead of walking the whole host again
 * (reconcile/link-memo.ts; bench: "large host", status).
 */

/** Entries kept: a reader further behind than this is told everything changed. */
const KEPT = 64;
/** Keys beyond this many in one answer: everything changed (a walk costs less than the union). */
const MOST = 256;

export interface Changes {
  /** Moves on with every change; a reader keeps the one it saw. */
  readonly version: number;
  /** The keys changed since `version`; 'all' when the log cannot tell (a dump, or too far behind). */
  since(version: number): ReadonlySet<string> | 'all';
}

export class ChangeLog implements Changes {
  version = 0;
  private readonly entries: { version: number; keys: ReadonlySet<string> | 'all' }[] = [];

  /** One change: these keys, or 'all'. Nothing changed, nothing recorded (the version stays). */
  record(keys: ReadonlySet<string> | 'all'): void {
    if (keys !== 'all' && keys.size === 0) return;
    this.entries.push({ version: ++this.version, keys });
    if (this.entries.length > KEPT) this.entries.shift();
  }

  since(version: number): ReadonlySet<string> | 'all' {
    if (version === this.version) return new Set();
    const first = this.entries[0];
    // Older than the oldest entry kept (or from another log): nothing can be said.
    if (first === undefined || version < first.version - 1 || version > this.version) return 'all';
    const out = new Set<string>();
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i];
      if (e === undefined || e.version <= version) break;
      if (e.keys === 'all') return 'all';
      for (const k of e.keys) out.add(k);
      if (out.size > MOST) return 'all';
    }
    return out;
  }
}
