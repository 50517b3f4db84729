/**
 * The seed article through the public API: a bridge network, two containers, a published port,
 * real traffic, then teardown. Runs in a throwaway lab (its own host and outside namespaces).
 *
 *   npm run build && node dist/cli/main.js sandbox -- npx tsx examples/seed.ts
 */
import { Host } from 'nftbridge';
import { Lab, UPLINK, send, serve } from 'nftbridge/lab';

const lab = await Lab.create();
const host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
const servers: Awaited<ReturnType<typeof serve>>[] = [];
try {
  await host.createNetwork({ name: 'seed', subnet: '172.18.0.0/24', gateway: '172.18.0.1', bridge: 'br0' });
  const ns1 = lab.name('ns1');
  const ns2 = lab.name('ns2');

  // Observable form: one event per step, as it happens.
  host.connect$('seed', ns1, { ip: '172.18.0.2', ifname: 'veth0' }).subscribe((ev) => {
    if (ev.type === 'step') console.log(`connect ns1: ${ev.step} ${ev.detail ?? ''}`);
  });
  // Promise form: the last value. (Operations queue up; this one waits for the one above.)
  const ep2 = await host.connect('seed', ns2, { ip: '172.18.0.3', ifname: 'veth2' });
  console.log(`ns2 is ${ep2.addresses.join(', ')} on ${ep2.ifname}`);
  await host.publish('seed', ns1, ['80:80/tcp']);

  servers.push(await serve(Lab.path(ns1), 'tcp', 80, 'ns1'), await serve(Lab.path(lab.outside), 'tcp', 80, 'outside'));
  const checks = [
    ['ns2 -> ns1', Lab.path(ns2), '172.18.0.2'],
    ['host -> ns1', Lab.path(lab.host), '172.18.0.2'],
    ['ns1 -> outside (masquerade)', Lab.path(ns1), UPLINK.outside],
    ['outside -> published port', Lab.path(lab.outside), UPLINK.host],
    ['host -> its own published port', Lab.path(lab.host), UPLINK.host],
  ] as const;
  for (const [name, from, to] of checks) {
    const reply = await send(from, 'tcp', to, 80, 'hello');
    console.log(`${name}: answered by ${reply.server}, which saw ${reply.peer}`);
  }
  const { drift } = await host.status();
  console.log(`drift: ${drift.length === 0 ? 'none' : JSON.stringify(drift)}`);
  console.log(`nftables document: ${host.ruleset().nftables.length} commands`);
} finally {
  await Promise.all(servers.map((s) => s.stop()));
  await host.down();
  await host.close();
  await lab.destroy();
}
