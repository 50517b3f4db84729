import { describe, expect, it } from 'vitest';
import { parsePublishSpec, parseUnpublishSpec } from '../../../src/topology/publish-spec.js';

describe("Docker's -p syntax", () => {
  it.each([
    ['80:80', { hostPort: 80, hostPortEnd: 80, containerPort: 80, containerPortEnd: 80, protocol: 'tcp' }],
    ['8080:80/udp', { hostPort: 8080, hostPortEnd: 8080, containerPort: 80, containerPortEnd: 80, protocol: 'udp' }],
    [
      '127.0.0.1:8080:80',
      { hostIp: '127.0.0.1', hostPort: 8080, hostPortEnd: 8080, containerPort: 80, containerPortEnd: 80, protocol: 'tcp' },
    ],
    ['0.0.0.0:8080:80', { hostPort: 8080, hostPortEnd: 8080, containerPort: 80, containerPortEnd: 80, protocol: 'tcp' }],
    ['[::1]:8080:80/TCP', { hostIp: '::1', hostPort: 8080, hostPortEnd: 8080, containerPort: 80, containerPortEnd: 80, protocol: 'tcp' }],
    [
      '[FD00:0::1]:53:53/udp',
      { hostIp: 'fd00::1', hostPort: 53, hostPortEnd: 53, containerPort: 53, containerPortEnd: 53, protocol: 'udp' },
    ],
    ['9000-9010:8000-8010', { hostPort: 9000, hostPortEnd: 9010, containerPort: 8000, containerPortEnd: 8010, protocol: 'tcp' }],
  ])('parses %s', (spec, want) => {
    expect(parsePublishSpec(spec)).toEqual(want);
  });
  it('parses unpublish specs', () => {
    expect(parseUnpublishSpec('8080')).toEqual({ hostPort: 8080, protocol: 'tcp' });
    expect(parseUnpublishSpec('53/udp')).toEqual({ hostPort: 53, protocol: 'udp' });
    expect(parseUnpublishSpec('127.0.0.1:8080')).toEqual({ hostIp: '127.0.0.1', hostPort: 8080, protocol: 'tcp' });
    expect(parseUnpublishSpec('[::1]:8080/tcp')).toEqual({ hostIp: '::1', hostPort: 8080, protocol: 'tcp' });
    expect(() => parseUnpublishSpec('x/tcp')).toThrow(/not a port number/);
  });
});
