/**
 * What changed between two lists of one kind, by identity. States are never changed in place: an
 * item that is the same object is the same item, so one walk of both lists tells what an
 * operation added and removed (reconcile/link-memo.ts).
 */

/** Items added or removed beyond this many: no answer (a caller then redoes its whole work; an operation changes a few). */
const MOST_CHANGED = 64;

/**
 * `b` as `a` with items removed and added, by identity, in one walk of both; undefined beyond
 * MOST_CHANGED. Appends, removals and an item replaced in place (a new object) cost a step each.
 */
export function arrayChanges<T>(a: readonly T[], b: readonly T[]): { added: T[]; removed: T[] } | undefined {
  const added: T[] = [];
  const removed: T[] = [];
  if (a === b) return { added, removed };
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      i++;
      j++;
      continue;
    }
    if (added.length + removed.length >= MOST_CHANGED) return undefined;
    if (j >= b.length || (i < a.length && a[i + 1] === b[j])) removed.push(a[i++] as T);
    else if (i >= a.length || a[i] === b[j + 1]) added.push(b[j++] as T);
    else {
      removed.push(a[i++] as T);
      added.push(b[j++] as T);
    }
  }
  return { added, removed };
}
