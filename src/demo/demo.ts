/**
 * The seed walkthrough, end to end, in a disposable lab: two containers on a bridge, egress through
 * masquerade, a published port reached from outside and from the host, and the host's own
 * outbound traffic left alone. Everything is removed at the end, also on failure or Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import { Host } from '../host.js';
import type { OperationEvent } from '../ops/operation.js';
import { Lab, UPLINK } from '../lab/lab.js';
import { send, serve, type Server } from '../lab/traffic.js';
import type { Observable } from 'rxjs';

export const SEED = {
  network: 'seed',
  subnet: '172.18.0.0/24',
  gateway: '172.18.0.1',
  bridge: 'br0',
  ns1: { ip: '172.18.0.2', ifname: 'veth0' },
  ns2: { ip: '172.18.0.3', ifname: 'veth2' },
  publish: '80:80/tcp',
} as const;

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DemoOptions {
  log: (line: string) => void;
  signal?: AbortSignal;
}

async function follow<T>(log: (l: string) => void, title: string, ops: Observable<OperationEvent<T>>): Promise<T> {
  log(`» ${title}`);
  return new Promise<T>((resolve, reject) => {
    let result: T | undefined;
    ops.subscribe({
      next: (ev) => (ev.type === 'step' ? log(`    ${ev.step}: ${ev.detail ?? ''}`) : (result = ev.result)),
      error: reject,
      complete: () => resolve(result as T),
    });
  });
}

export async function runDemo({ log, signal }: DemoOptions): Promise<CheckResult[]> {
  const servers: Server[] = [];
  let lab: Lab | undefined;
  let host: Host | undefined;
  const cleanup = async () => {
    log('» cleanup: stopping servers, nftbridge down, removing the lab');
    await Promise.all(servers.map((s) => s.stop()));
    await host?.down().catch((err: unknown) => log(`    down failed: ${String(err)}`));
    await lab?.destroy();
  };
  try {
    lab = await Lab.create();
    log(`» lab ${lab.id}: host namespace ${lab.host}, outside machine ${lab.outside} (uplink ${UPLINK.host} <-> ${UPLINK.outside})`);
    host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
    const ns1 = lab.name('ns1');
    const ns2 = lab.name('ns2');
    await follow(
      log,
      `network create ${SEED.network} --subnet ${SEED.subnet} --bridge ${SEED.bridge}`,
      host.createNetwork$({ name: SEED.network, subnet: SEED.subnet, gateway: SEED.gateway, bridge: SEED.bridge }),
    );
    await follow(log, `connect ${SEED.network} ${ns1} --ip ${SEED.ns1.ip}`, host.connect$(SEED.network, ns1, SEED.ns1));
    await follow(log, `connect ${SEED.network} ${ns2} --ip ${SEED.ns2.ip}`, host.connect$(SEED.network, ns2, SEED.ns2));
    await follow(log, `publish ${SEED.network} ${ns1} ${SEED.publish}`, host.publish$(SEED.network, ns1, [SEED.publish]));
    signal?.throwIfAborted();

    log('» starting TCP servers on port 80 in ns1, ns2 and the outside machine');
    servers.push(await serve(Lab.path(ns1), 'tcp', 80, 'ns1'));
    servers.push(await serve(Lab.path(ns2), 'tcp', 80, 'ns2'));
    servers.push(await serve(Lab.path(lab.outside), 'tcp', 80, 'outside'));

    const hostNs = Lab.path(lab.host);
    const checks: [string, string, string, string, (server: string, peer: string) => string | undefined][] = [
      [
        '1 container to container (ns1 -> ns2 on br0)',
        Lab.path(ns1),
        SEED.ns2.ip,
        'ns2',
        (_s, peer) => (peer === SEED.ns1.ip ? undefined : `ns2 saw ${peer}`),
      ],
      ['2 host to container (host -> ns1:80)', hostNs, SEED.ns1.ip, 'ns1', () => undefined],
      [
        '3 container to outside through masquerade',
        Lab.path(ns1),
        UPLINK.outside,
        'outside',
        (_s, peer) => (peer === UPLINK.host ? undefined : `outside saw ${peer}, not the host's ${UPLINK.host}`),
      ],
      ['4 outside to the published port (DNAT in prerouting)', Lab.path(lab.outside), UPLINK.host, 'ns1', () => undefined],
      ['5 host to its own published port (DNAT in output)', hostNs, UPLINK.host, 'ns1', () => undefined],
      ["6 host's own traffic to another machine's port 80 is not hijacked", hostNs, UPLINK.outside, 'outside', () => undefined],
    ];
    const results: CheckResult[] = [];
    for (const [name, from, to, expect, verify] of checks) {
      signal?.throwIfAborted();
      const payload = randomBytes(8).toString('hex');
      let r: CheckResult;
      try {
        const reply = await send(from, 'tcp', to, 80, payload);
        const problem =
          reply.server !== expect
            ? `answered by ${reply.server}, expected ${expect}`
            : reply.payload !== payload
              ? 'payload corrupted'
              : verify(reply.server, reply.peer);
        r = {
          name,
          ok: problem === undefined,
          detail: problem ?? `${to}:80 answered by ${reply.server}, peer seen as ${reply.peer}, payload ${payload} echoed`,
        };
      } catch (err) {
        r = { name, ok: false, detail: err instanceof Error ? err.message : String(err) };
      }
      log(`${r.ok ? '✔' : '✘'} check ${r.name}: ${r.detail}`);
      results.push(r);
    }
    return results;
  } finally {
    await cleanup();
  }
}
