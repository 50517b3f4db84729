/** Typed builders for the expressions and statements nftbridge emits, in nft's canonical listing form. */
import type { Expr, KnownStatement } from './schema.js';

export const payload = (protocol: string, field: string): Expr => ({ payload: { protocol, field } });
export const meta = (key: string): Expr => ({ meta: { key } });
export const ct = (key: string): Expr => ({ ct: { key } });
export const fibDaddrType: Expr = { fib: { result: 'type', flags: ['daddr'] } };
export const concat = (...parts: Expr[]): Expr => ({ concat: parts });
export const prefix = (addr: string, len: number): Expr => ({ prefix: { addr, len } });
export const range = (lo: number, hi: number): Expr => ({ range: [lo, hi] });
export const anonSet = (items: Expr[]): Expr => ({ set: items });
export const mapLookup = (key: Expr, data: string): Expr => ({ map: { key, data } });

export const match = (left: Expr, right: Expr, op: '==' | '!=' | 'in' = '=='): KnownStatement => ({ match: { op, left, right } });
export const accept: KnownStatement = { accept: null };
export const drop: KnownStatement = { drop: null };
export const masquerade: KnownStatement = { masquerade: null };
export const jump = (target: string): KnownStatement => ({ jump: { target } });
/**
 * `meta mark set meta mark & keep | value`: other bits survive. The AND operand is written as nft
 * lists it back (keep | value, the same result), so the rule compares equal in drift checks.
 */
export const setMark = (keep: number, value: number): KnownStatement => ({
  mangle: { key: meta('mark'), value: { '|': [{ '&': [meta('mark'), (keep | value) >>> 0] }, value] } },
});
export const goto = (target: string): KnownStatement => ({ goto: { target } });
/** A verdict map lookup: `KEY vmap @MAP`. */
export const vmap = (key: Expr, map: string): KnownStatement => ({ vmap: { key, data: `@${map}` } });
/** Verdicts as a verdict map's data. */
export const gotoVerdict = (target: string): Expr => ({ goto: { target } });
export const jumpVerdict = (target: string): Expr => ({ jump: { target } });
export const dropVerdict: Expr = { drop: null };
export const dnatViaMaps = (family: 'ip' | 'ip6', key: Expr, addrMap: string, portMap: string): KnownStatement => ({
  dnat: { family, addr: mapLookup(key, `@${addrMap}`), port: mapLookup(key, `@${portMap}`) },
});
