import { describe, expect, it } from 'vitest';
import { formatIp, normalizeIp, overlaps, parseCidr, parseIp } from '../../../src/topology/cidr.js';

describe('addresses and prefixes', () => {
  it('round-trips IPv4 and IPv6, compressing as RFC 5952', () => {
    for (const a of ['0.0.0.0', '172.18.0.1', '255.255.255.255']) expect(normalizeIp('x', a)).toBe(a);
    expect(normalizeIp('x', 'FD00:0:0:0:0:0:0:1')).toBe('fd00::1');
    expect(normalizeIp('x', '2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(normalizeIp('x', '::')).toBe('::');
    expect(normalizeIp('x', '::ffff:1.2.3.4')).toBe('::ffff:102:304');
    const { family, value } = parseIp('x', 'fd00:22::1');
    expect(formatIp(family, value + 1n)).toBe('fd00:22::2');
  });
  it('detects overlap only within one family', () => {
    expect(overlaps(parseCidr('a', '10.0.0.0/8'), parseCidr('b', '10.1.0.0/16'))).toBe(true);
    expect(overlaps(parseCidr('a', '10.0.0.0/24'), parseCidr('b', '10.0.1.0/24'))).toBe(false);
    expect(overlaps(parseCidr('a', 'fd00::/64'), parseCidr('b', 'fd00::/48'))).toBe(true);
  });
});
