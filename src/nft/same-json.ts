/**
 * Whether two JSON values are the same, key order aside. A repair renders its document afresh from
 * a state equal to the last one; telling that it is the same document costs a walk, where
 * stringifying it to compare cost several times more at 10,000 ports (bench: "full rebuild").
 * Errs only towards "different" (an undefined member, NaN), which just serializes anew. Node's
 * util.isDeepStrictEqual answers the same, but checks prototypes and tags of every object on the
 * way: 2.4-3.6 ms against 0.6-0.7 ms for this walk on the same 10,000-port documents (by hand).
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  // Counted rather than listed: no array of keys for each of the 10,000s of small objects.
  let members = 0;
  for (const k in x) {
    if (!Object.hasOwn(y, k) || !sameJson(x[k], y[k])) return false;
    members++;
  }
  for (const _ in y) members--;
  return members === 0;
}
