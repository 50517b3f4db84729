/**
 * A container cannot forge its source address: frames from a bridge port carry one of that
 * endpoint's own addresses (IPv4, ARP, IPv6; link-local allowed), or they are dropped before they
 * are bridged, routed or NATed. The outside machine counts what reaches it with nft counters.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Host } from '../../src/index.js';
import { Lab, UPLINK } from '../../src/lab/lab.js';
import { describeKernel } from '../helpers/kernel.js';
import { eventually } from '../helpers/wait.js';

const inNs = (netns: string, cmd: string, ...args: string[]) =>
  execFileSync('nsenter', [`--net=${Lab.path(netns)}`, cmd, ...args], { encoding: 'utf8' });

/** Sends `count` UDP datagrams from `source` (bound, so the kernel uses it) to host:port. */
function sendFrom(netns: string, source: string, host: string, port: number, count = 3): void {
  const script = `const s=require('dgram').createSocket('${host.includes(':') ? 'udp6' : 'udp4'}');s.bind(0,'${source}',()=>{let n=${count};const go=()=>s.send('x',${port},'${host}',()=>{if(--n>0)setTimeout(go,10);else s.close()});go()})`;
  inNs(netns, process.execPath, '-e', script);
}

describeKernel('a container cannot forge its source address', () => {
  let lab: Lab;
  let host: Host;
  let c1: string;
  let c2: string;
  let c1v4: string;
  let c2v4: string;

  /** Packets the outside machine received on `port`, by source address. */
  const seen = (port: number): Record<string, number> => {
    const listing = JSON.parse(inNs(lab.outside, 'nft', '-j', 'list', 'table', 'inet', 'spy')) as {
      nftables: { rule?: { comment?: string; expr: { counter?: { packets: number } }[] } }[];
    };
    const out: Record<string, number> = {};
    for (const o of listing.nftables) {
      const [p, src] = (o.rule?.comment ?? '').split(' ');
      const packets = o.rule?.expr.find((x) => x.counter)?.counter?.packets ?? 0;
      if (p === String(port) && src && packets > 0) out[src] = packets;
    }
    return out;
  };

  beforeAll(async () => {
    lab = await Lab.create();
    host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
    await host.createNetwork({ name: 'n1', subnet: ['10.86.0.0/24', 'fd86::/64'] });
    await host.createNetwork({ name: 'n2', subnet: '10.87.0.0/24' });
    c1 = lab.name('c1');
    c2 = lab.name('c2');
    c1v4 = (await host.connect('n1', c1)).addresses[0] ?? '';
    c2v4 = (await host.connect('n2', c2)).addresses[0] ?? '';
    // The outside machine counts UDP by destination port and source: masqueraded, forged, other.
    const rules = [9997, 9998, 9999].flatMap((port) => [
      `add rule inet spy input udp dport ${port} ip saddr ${UPLINK.host} counter comment "${port} ${UPLINK.host}"`,
      `add rule inet spy input udp dport ${port} ip6 saddr ${UPLINK.host6} counter comment "${port} ${UPLINK.host6}"`,
      `add rule inet spy input udp dport ${port} meta nfproto ipv4 ip saddr != ${UPLINK.host} counter comment "${port} other4"`,
      `add rule inet spy input udp dport ${port} meta nfproto ipv6 ip6 saddr != ${UPLINK.host6} counter comment "${port} other6"`,
    ]);
    inNs(
      lab.outside,
      'nft',
      ['add table inet spy', 'add chain inet spy input { type filter hook input priority 0; }', ...rules].join('\n'),
    );
  });
  afterAll(async () => {
    await host?.down().catch(() => undefined);
    await host?.close();
    await lab?.destroy();
  });

  it('its own addresses get out (masqueraded), over IPv4 and IPv6', async () => {
    const c1v6 = JSON.parse(inNs(c1, 'ip', '-j', '-6', 'addr', 'show', 'scope', 'global')) as { addr_info: { local: string }[] }[];
    // Until neighbour discovery on the fresh uplink settles, a datagram may wait or be lost: retry.
    await eventually(
      () => {
        sendFrom(c1, c1v4, UPLINK.outside, 9999, 1);
        sendFrom(c1, c1v6[0]?.addr_info[0]?.local ?? '', UPLINK.outside6, 9999, 1);
        expect(Object.keys(seen(9999)).sort()).toEqual([UPLINK.host, UPLINK.host6].sort());
      },
      10_000,
      200,
    );
  });

  it('a forged foreign source is dropped, not forwarded un-NATed', () => {
    inNs(c1, 'ip', 'addr', 'add', '198.51.100.7/32', 'dev', 'eth0');
    inNs(c1, 'ip', 'addr', 'add', 'fd99::7/128', 'dev', 'eth0', 'nodad');
    sendFrom(c1, '198.51.100.7', UPLINK.outside, 9998);
    sendFrom(c1, 'fd99::7', UPLINK.outside6, 9998);
    expect(seen(9998)).toEqual({});
  });

  it('the source of a container on another network is dropped, not masqueraded for it', () => {
    inNs(c1, 'ip', 'addr', 'add', `${c2v4}/32`, 'dev', 'eth0');
    sendFrom(c1, c2v4, UPLINK.outside, 9997);
    expect(seen(9997)).toEqual({});
    // The real owner of that address still gets out.
    sendFrom(c2, c2v4, UPLINK.outside, 9997);
    expect(seen(9997)).toEqual({ [UPLINK.host]: 3 });
  });

  it('the allowed sources are set elements, added on connect and removed on disconnect', async () => {
    const elements = () => inNs(lab.host, 'nft', 'list', 'set', 'bridge', 'nftbridge', 'spoof_src4');
    const ep = (await host.state()).endpoints.find((e) => e.container === c2)!;
    expect(elements()).toContain(`"${ep.hostIfname}" . ${c2v4}`);
    await host.disconnect('n2', c2);
    expect(elements()).not.toContain(ep.hostIfname);
    expect((await host.status()).drift).toEqual([]);
  });
});
