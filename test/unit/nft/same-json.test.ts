import { describe, expect, it } from 'vitest';
import { sameJson } from '../../../src/nft/same-json.js';

describe('sameJson', () => {
  it('is JSON equality, key order aside', () => {
    const doc = { nftables: [{ add: { element: { family: 'inet', name: 'm', elem: [[{ concat: ['tcp', 80] }, '10.0.0.2']] } } }] };
    expect(sameJson(doc, structuredClone(doc))).toBe(true);
    expect(sameJson({ a: 1, b: [2, 'x'] }, { b: [2, 'x'], a: 1 })).toBe(true);
    expect(sameJson(null, null)).toBe(true);
  });

  it('tells every kind of difference', () => {
    const base = { a: [1, { b: 'x' }], c: true };
    const variants: unknown[] = [
      { a: [1, { b: 'y' }], c: true },
      { a: [1, { b: 'x' }, 3], c: true },
      { a: [1, { b: 'x' }], c: false },
      { a: [1, { b: 'x' }] },
      { a: [1, { b: 'x' }], c: true, d: 1 },
      { a: [1, { b: 'x' }], d: true },
      { a: { 0: 1, 1: { b: 'x' } }, c: true },
      { a: [1, ['x']], c: true },
      { a: ['1', { b: 'x' }], c: true },
      { a: [1, null], c: true },
      [base],
      'x',
    ];
    for (const v of variants) {
      expect(sameJson(base, v), JSON.stringify(v)).toBe(false);
      expect(sameJson(v, base), JSON.stringify(v)).toBe(false);
    }
  });

  it('agrees with comparing JSON text on documents that differ in one element', () => {
    const elems = (n: number, odd: number) =>
      Array.from({ length: n }, (_, i) => [{ concat: ['tcp', 1000 + i] }, i === odd ? '10.0.0.3' : '10.0.0.2']);
    const a = { nftables: [{ add: { element: { name: 'm', elem: elems(500, -1) } } }] };
    for (const odd of [-1, 0, 250, 499]) {
      const b = { nftables: [{ add: { element: { name: 'm', elem: elems(500, odd) } } }] };
      expect(sameJson(a, b)).toBe(JSON.stringify(a) === JSON.stringify(b));
    }
  });
});
