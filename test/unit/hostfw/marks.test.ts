import { describe, expect, it } from 'vitest';
import { allocateMark, describeMark, markCapacity, markValue, networkMarks, parseMarkMask } from '../../../src/hostfw/marks.js';
import { hostFirewallOptions, parseHostFirewallMode } from '../../../src/hostfw/options.js';
import { ValidationError } from '../../../src/index.js';

const net = (name: string, mark?: number) => ({
  name,
  bridge: `nb-${name}`,
  subnets: [],
  internal: false,
  icc: true,
  ...(mark ? { mark } : {}),
});

describe('network marks', () => {
  it('parse a contiguous mask in hex or decimal, and refuse anything else naming the field', () => {
    expect(parseMarkMask('mark-mask', '0xff000000')).toBe(0xff000000);
    expect(parseMarkMask('mark-mask', '0x0000ff00')).toBe(0xff00);
    expect(parseMarkMask('mark-mask', '65280')).toBe(0xff00);
    expect(parseMarkMask('mark-mask', '0xffffffff')).toBe(0xffffffff);
    for (const bad of ['0', '0x0', '0xff00ff00', 'ff', '-1', '0x1ffffffff', ''])
      expect(() => parseMarkMask('mark-mask', bad)).toThrow(ValidationError);
    expect(() => parseMarkMask('mark-mask', '0xf0f0')).toThrow(/mark-mask.*contiguous|contiguous/);
  });

  it('place network numbers inside the mask', () => {
    expect(markValue(1, 0xff000000)).toBe(0x01000000);
    expect(markValue(255, 0xff000000)).toBe(0xff000000);
    expect(markValue(3, 0xf0)).toBe(0x30);
    expect(markCapacity(0xff000000)).toBe(255);
  });

  it('keep the numbers networks carry, and give older networks the free ones by name, whatever the order', () => {
    expect(networkMarks({ networks: [net('b'), net('a', 1), net('c')] })).toEqual(
      new Map([
        ['a', 1],
        ['b', 2],
        ['c', 3],
      ]),
    );
    expect(networkMarks({ networks: [net('c'), net('b'), net('a', 1)] })).toEqual(
      networkMarks({ networks: [net('b'), net('a', 1), net('c')] }),
    );
    expect(allocateMark({ networks: [net('a', 1), net('b', 3)] }, 0xff000000)).toBe(2);
    expect(describeMark(net('b'), { networks: [net('a', 1), net('b', 3)] }, 0xff000000)).toBe('0x03000000/0xff000000');
  });

  it('are refused past the mask capacity, naming the field', () => {
    expect(() => allocateMark({ networks: [net('a', 1), net('b', 2), net('c', 3)] }, 0x3)).toThrow(/mark-mask/);
  });

  it('options come from the Host options first, then the environment', () => {
    expect(hostFirewallOptions({}, {})).toEqual({ mode: 'auto', mask: 0xff000000 });
    expect(hostFirewallOptions({}, { NFTBRIDGE_HOST_FIREWALL: 'off', NFTBRIDGE_MARK_MASK: '0xff00' })).toEqual({
      mode: 'off',
      mask: 0xff00,
    });
    expect(hostFirewallOptions({ hostFirewall: 'auto', markMask: 0xf0 }, { NFTBRIDGE_HOST_FIREWALL: 'off' })).toEqual({
      mode: 'auto',
      mask: 0xf0,
    });
    expect(() => parseHostFirewallMode('host-firewall', 'maybe')).toThrow(/host-firewall/);
    expect(() => hostFirewallOptions({}, { NFTBRIDGE_HOST_FIREWALL: 'no' })).toThrow(/NFTBRIDGE_HOST_FIREWALL/);
  });
});
