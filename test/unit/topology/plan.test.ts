import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, ValidationError } from '../../../src/errors.js';
import { emptyState, type State } from '../../../src/topology/state.js';
import { planEndpoint, planNetwork, defaultBridgeName } from '../../../src/topology/plan.js';
import { planPublish, planUnpublish } from '../../../src/topology/port-plan.js';
import { parseUnpublishSpec } from '../../../src/topology/publish-spec.js';

function seeded(): State {
  const s = emptyState();
  s.networks.push(planNetwork(s, { name: 'seed', subnet: '172.18.0.0/24', bridge: 'br0' }));
  s.containers.push({ name: 'ns1', netns: '/run/netns/ns1', created: true });
  s.endpoints.push(planEndpoint(s, 'seed', 'ns1', {}, 'vethaaaaaaa'));
  return s;
}

const fails = (fn: () => unknown, field: string, reason: RegExp, kind: typeof ValidationError = ValidationError) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(kind);
    expect((err as ValidationError).field).toBe(field);
    expect((err as ValidationError).reason).toMatch(reason);
    return;
  }
  throw new Error('expected a validation error');
};

describe('planNetwork', () => {
  it('defaults the gateway to the first host and derives a bridge name', () => {
    const net = planNetwork(emptyState(), { name: 'web', subnet: '10.88.0.0/16' });
    expect(net).toEqual({
      name: 'web',
      bridge: 'nb-web',
      subnets: [{ cidr: '10.88.0.0/16', gateway: '10.88.0.1' }],
      internal: false,
      icc: true,
      created: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown as string,
    });
  });
  it('hashes names too long for an interface', () => {
    expect(defaultBridgeName('a-very-long-network-name')).toMatch(/^nb-[0-9a-f]{12}$/);
  });
  it('accepts one IPv4 and one IPv6 subnet', () => {
    const net = planNetwork(emptyState(), { name: 'ds', subnet: ['172.22.0.0/24', 'fd00:22::/64'] });
    expect(net.subnets).toEqual([
      { cidr: '172.22.0.0/24', gateway: '172.22.0.1' },
      { cidr: 'fd00:22::/64', gateway: 'fd00:22::1' },
    ]);
  });
  it.each([
    ['malformed CIDR', { subnet: '172.18.0.0' }, 'subnet', /not a CIDR/],
    ['bad address', { subnet: '300.1.1.0/24' }, 'subnet', /not an IP address/],
    ['host bits set', { subnet: '172.18.0.1/24' }, 'subnet', /host bits/],
    ['prefix too long', { subnet: '172.18.0.0/33' }, 'subnet', /longer than 32/],
    ['/31', { subnet: '172.18.0.0/31' }, 'subnet', /^172\.18\.0\.0\/31 is too small \(\/30 or larger needed\)$/],
    ['/32', { subnet: '172.18.0.0/32' }, 'subnet', /too small/],
    ['gateway outside', { subnet: '172.18.0.0/24', gateway: '172.19.0.1' }, 'gateway', /not a usable address/],
    ['gateway is the network address', { subnet: '172.18.0.0/24', gateway: '172.18.0.0' }, 'gateway', /not a usable address/],
    ['gateway is broadcast', { subnet: '172.18.0.0/24', gateway: '172.18.0.255' }, 'gateway', /not a usable address/],
    ['malformed gateway', { subnet: '172.18.0.0/24', gateway: 'x' }, 'gateway', /not an IP address/],
    ['empty bridge', { subnet: '10.1.0.0/24', bridge: '' }, 'bridge', /empty/],
    ['long bridge', { subnet: '10.1.0.0/24', bridge: 'abcdefghijklmnop' }, 'bridge', /longer than 15/],
    ['wildcard bridge', { subnet: '10.1.0.0/24', bridge: 'br*' }, 'bridge', /outside \[A-Za-z0-9_.-\]/],
    ['bridge with a space', { subnet: '10.1.0.0/24', bridge: 'br 0' }, 'bridge', /outside/],
    ['two IPv4 subnets', { subnet: ['10.1.0.0/24', '10.2.0.0/24'] }, 'subnet', /one subnet per address family/],
    ['mtu too small', { subnet: '10.1.0.0/24', mtu: 10 }, 'mtu', /outside 68/],
  ])('rejects %s', (_what, input, field, reason) => {
    fails(() => planNetwork(emptyState(), { name: 'n', ...input }), field, reason);
  });
  it('rejects overlapping subnets, duplicate names and bridges', () => {
    const s = seeded();
    fails(
      () => planNetwork(s, { name: 'other', subnet: '172.18.0.128/25' }),
      'subnet',
      /overlaps 172.18.0.0\/24 of network "seed"/,
      ConflictError,
    );
    fails(() => planNetwork(s, { name: 'other', subnet: '172.0.0.0/8' }), 'subnet', /overlaps/, ConflictError);
    fails(() => planNetwork(s, { name: 'seed', subnet: '10.0.0.0/24' }), 'name', /already exists/, ConflictError);
    fails(
      () => planNetwork(s, { name: 'other', subnet: '10.0.0.0/24', bridge: 'br0' }),
      'bridge',
      /used by another network/,
      ConflictError,
    );
    fails(() => planNetwork(s, { name: 'bad name', subnet: '10.0.0.0/24' }), 'name', /must start/);
  });
});

describe('planEndpoint', () => {
  it('refuses the 1024th port of a bridge up front, saying which limit was hit', () => {
    const s = emptyState();
    s.networks.push(planNetwork(s, { name: 'big', subnet: '10.0.0.0/16' }));
    for (let i = 0; i < 1023; i++)
      s.endpoints.push(planEndpoint(s, 'big', `c${i}`, { ip: `10.0.${(i + 2) >> 8}.${(i + 2) & 255}` }, `v${i}`));
    fails(
      () => planEndpoint(s, 'big', 'one-more', {}, 'vx'),
      'network',
      /1023 endpoints, the most one Linux bridge takes \(1023 ports\)/,
      ConflictError,
    );
  });

  it("never hands out an address in use on the segment (the bridge's own, say)", () => {
    const s = seeded();
    expect(planEndpoint(s, 'seed', 'ns2', {}, 'vethb', ['172.18.0.3', '172.18.0.4']).addresses).toEqual(['172.18.0.5']);
  });

  it('allocates the lowest free address and names interfaces eth0, eth1', () => {
    const s = seeded();
    expect(s.endpoints[0]).toMatchObject({ ifname: 'eth0', addresses: ['172.18.0.2'] });
    const next = planEndpoint(s, 'seed', 'ns2', {}, 'vethbbbbbbb');
    expect(next.addresses).toEqual(['172.18.0.3']);
    expect(planEndpoint(s, 'seed', 'ns2', { ip: '172.18.0.254' }, 'v').addresses).toEqual(['172.18.0.254']);
  });
  it.each([
    ['unknown network', 'nope', 'ns2', {}, 'network', /no network named "nope"/],
    ['address outside the subnet', 'seed', 'ns2', { ip: '10.0.0.5' }, 'ip', /not a usable address of 172.18.0.0\/24/],
    ['malformed address', 'seed', 'ns2', { ip: '172.18.0' }, 'ip', /not an IP address/],
    ['address taken by an endpoint', 'seed', 'ns2', { ip: '172.18.0.2' }, 'ip', /already in use/],
    ['address taken by the gateway', 'seed', 'ns2', { ip: '172.18.0.1' }, 'ip', /already in use/],
    ['an IPv6 address on an IPv4 network', 'seed', 'ns2', { ip6: 'fd00::5' }, 'ip6', /no IPv6 subnet/],
    ['interface name too long', 'seed', 'ns2', { ifname: 'eth0123456789012' }, 'ifname', /longer than 15/],
    ['interface name with a wildcard', 'seed', 'ns2', { ifname: 'eth*' }, 'ifname', /outside/],
    ['empty interface name', 'seed', 'ns2', { ifname: '' }, 'ifname', /empty/],
    ['container already connected', 'seed', 'ns1', {}, 'container', /already connected/],
    ['relative namespace path', 'seed', 'a/b', {}, 'container', /must be absolute/],
    ['bad MAC', 'seed', 'ns2', { mac: '02:42:zz:00:00:01' }, 'mac', /not a MAC/],
    ['multicast MAC', 'seed', 'ns2', { mac: '01:00:5e:00:00:01' }, 'mac', /multicast/],
  ])('rejects %s', (_w, net, container, input, field, reason) => {
    fails(() => planEndpoint(seeded(), net, container, input, 'vethccccccc'), field, reason);
  });
});

describe('planPublish / planUnpublish', () => {
  it('records ports and refuses a second binding of the same host port', () => {
    const s = seeded();
    const ports = planPublish(s, 'seed', 'ns1', ['8080:80', '127.0.0.1:5353:53/udp', '9000-9002:9000-9002']);
    expect(ports.map((p) => [p.hostIp, p.hostPort, p.hostPortEnd, p.containerPort, p.protocol])).toEqual([
      [undefined, 8080, 8080, 80, 'tcp'],
      ['127.0.0.1', 5353, 5353, 53, 'udp'],
      [undefined, 9000, 9002, 9000, 'tcp'],
    ]);
    s.ports.push(...ports);
    fails(() => planPublish(s, 'seed', 'ns1', ['8080:81']), 'spec "8080:81"', /already published/, ConflictError);
    fails(() => planPublish(s, 'seed', 'ns1', ['10.0.0.1:8080:81']), 'spec "10.0.0.1:8080:81"', /already published/, ConflictError);
    fails(() => planPublish(s, 'seed', 'ns1', ['9001:80']), 'spec "9001:80"', /already published/, ConflictError);
    expect(planPublish(s, 'seed', 'ns1', ['8080:80/udp'])).toHaveLength(1);
    fails(() => planPublish(s, 'seed', 'ns1', ['7000:70', '7000:71']), 'spec "7000:71"', /already published/, ConflictError);
  });
  it.each([
    ['port 0', '0:80', /outside 1..65535/],
    ['port 65536', '65536:80', /outside 1..65535/],
    ['container port too big', '80:70000', /outside 1..65535/],
    ['a word', 'http:80', /not a port number/],
    ['a bad protocol', '80:80/sctp', /not tcp or udp/],
    ['a missing container port', '8080', /expected/],
    ['unequal ranges', '8000-8001:80', /same length/],
    ['a reversed range', '8002-8000:80-82', /ends before/],
    ['a bad host address', '300.0.0.1:80:80', /not an IP address/],
  ])('rejects %s', (_w, spec, reason) => {
    fails(() => planPublish(seeded(), 'seed', 'ns1', [spec]), `spec "${spec}"`, reason);
  });
  it('rejects unknown networks and containers', () => {
    fails(() => planPublish(seeded(), 'nope', 'ns1', ['80:80']), 'network', /no network/, NotFoundError);
    fails(() => planPublish(seeded(), 'seed', 'ns9', ['80:80']), 'container', /not connected/, NotFoundError);
  });
  it('refuses publishing on an internal network', () => {
    const s = emptyState();
    s.networks.push(planNetwork(s, { name: 'int', subnet: '10.5.0.0/24', internal: true }));
    s.endpoints.push(planEndpoint(s, 'int', 'c', {}, 'v'));
    fails(() => planPublish(s, 'int', 'c', ['80:80']), 'network', /internal/);
  });
  it('unpublish finds what was published and names what was not', () => {
    const s = seeded();
    s.ports.push(...planPublish(s, 'seed', 'ns1', ['8080:80', '5353:53/udp']));
    expect(planUnpublish(s, 'seed', 'ns1', [parseUnpublishSpec('5353/udp')])[0]?.containerPort).toBe(53);
    fails(() => planUnpublish(s, 'seed', 'ns1', [parseUnpublishSpec('5353')]), 'spec', /5353\/tcp is not published/, NotFoundError);
  });
});
