/**
 * nftbridge under real host firewalls, with real traffic: firewalld (its own dbus-daemon), ufw
 * (iptables-nft) and a hardened nftables.conf, each confined to the lab's host namespace and a
 * private mount namespace. Without the integration each of them drops container traffic; with it,
 * egress, container-to-container and published ports work, isolation holds, a reload is survived,
 * and `down` leaves the firewall exactly as it was.
 */
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { defaultRunner, Host, NftClient } from '../../src/index.js';
import { type HostFirewallKind, type LabFirewall, startHostFirewall } from '../../src/lab/firewalls.js';
import { ATTACKER, Lab, UPLINK } from '../../src/lab/lab.js';
import { send, serve, type Server } from '../../src/lab/traffic.js';
import { cli, cliOk } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';

const KINDS: HostFirewallKind[] = ['nftables', 'ufw', 'firewalld'];

describeKernel.each(KINDS)('under %s', (kind) => {
  let lab: Lab;
  let fw: LabFirewall;
  let host: Host;
  let attacker: string;
  let before: string;
  const servers: Server[] = [];
  const ns = (role: string) => Lab.path(lab.name(role));

  const reaches = async (from: string, to: string, port: number, server: string, timeoutMs = 3000) => {
    const p = randomBytes(4).toString('hex');
    const r = await send(from, 'tcp', to, port, p, timeoutMs);
    expect(r.server).toBe(server);
    return r;
  };
  const blocked = (from: string, to: string, port: number) => expect(send(from, 'tcp', to, port, 'x', 800)).rejects.toThrow();
  /** Egress, container-to-container and a published port, all at once. */
  const traffic = async (timeoutMs = 3000) => {
    const egress = await reaches(ns('a1'), UPLINK.outside, 80, 'outside', timeoutMs);
    // Masquerade: the outside machine sees the host's uplink address.
    expect(egress.peer).toBe(UPLINK.host);
    await reaches(ns('a1'), '172.31.1.3', 80, 'a2', timeoutMs);
    await reaches(Lab.path(lab.outside), UPLINK.host, 8080, 'a1', timeoutMs);
  };
  /** Retries until the traffic passes again (a repair under way), for at most `ms`. */
  const eventually = async (ms: number) => {
    const started = Date.now();
    for (;;) {
      try {
        await traffic(700);
        return Date.now() - started;
      } catch (err) {
        if (Date.now() - started > ms) throw err;
      }
    }
  };

  beforeAll(async () => {
    lab = await Lab.create();
    fw = await startHostFirewall(kind, lab);
    // Reloaded once first: ufw's ruleset right after `enable` differs from its own reloaded one.
    await fw.reload();
    before = await fw.snapshot();
    const options = {
      netns: lab.host,
      stateDir: lab.stateDir,
      ...(fw.env.DBUS_SYSTEM_BUS_ADDRESS ? { systemBus: fw.env.DBUS_SYSTEM_BUS_ADDRESS } : {}),
    };
    host = await Host.open(options);
    attacker = await lab.addAttacker(['172.31.0.0/16']);
    await host.createNetwork({ name: 'A', subnet: '172.31.1.0/24' });
    await host.createNetwork({ name: 'B', subnet: '172.31.2.0/24' });
    await host.createNetwork({ name: 'I', subnet: '172.31.3.0/24', internal: true });
    for (const [net, role] of [
      ['A', 'a1'],
      ['A', 'a2'],
      ['B', 'b1'],
      ['I', 'i1'],
    ] as const)
      await host.connect(net, lab.name(role));
    for (const role of ['a1', 'a2', 'b1', 'i1']) servers.push(await serve(ns(role), 'tcp', 80, role));
    servers.push(await serve(Lab.path(lab.outside), 'tcp', 80, 'outside'));
    await host.publish('A', lab.name('a1'), ['8080:80', '127.0.0.1:8081:80']);
  }, 120_000);

  afterAll(async () => {
    for (const s of servers) await s.stop();
    await host?.close();
    await fw?.stop();
    await lab?.destroy();
  });

  it('is detected, and without the integration it drops container traffic', async () => {
    const status = await host.status();
    expect(status.hostFirewall.firewalls.map((f) => f.kind)).toContain(
      kind === 'nftables' ? 'nftables' : kind === 'ufw' ? 'ufw' : 'firewalld',
    );
    expect(status.hostFirewall.blocks).toEqual(['A', 'B', 'I']);
    expect(status.drift).toEqual([]);
    // The integration taken away and the host applied with it off: the firewall drops the traffic.
    await host.hostFirewall.remove();
    const off = await Host.open({ netns: lab.host, stateDir: lab.stateDir, hostFirewall: 'off' });
    try {
      await off.apply();
      expect((await off.status()).hostFirewall.mode).toBe('off');
      await blocked(ns('a1'), UPLINK.outside, 80);
      // firewalld accepts every DNATed connection by itself (`ct status dnat accept`).
      if (kind !== 'firewalld') await blocked(Lab.path(lab.outside), UPLINK.host, 8080);
    } finally {
      await off.close();
    }
    await host.apply();
    expect((await host.status()).drift).toEqual([]);
  });

  it('lets egress, container-to-container and published ports through', async () => {
    await traffic();
  });

  it('opens nothing beyond nftbridge policy', async () => {
    await blocked(ns('a1'), '172.31.2.2', 80); // another network
    await blocked(ns('i1'), UPLINK.outside, 80); // --internal
    await blocked(attacker, '172.31.1.2', 80); // a routing neighbour, straight to a container
    await blocked(attacker, ATTACKER.host, 8081); // published on 127.0.0.1 only
    await reaches(Lab.path(lab.host), '127.0.0.1', 8081, 'a1');
  });

  it('survives the firewall reload (watch running)', async () => {
    const controller = host.controller({ resyncMs: 60_000 });
    controller.start();
    try {
      await traffic();
      const t0 = Date.now();
      await fw.reload();
      // Timed from the reload command's return, as the bench does: the firewall's own reload is
      // not nftbridge's (on a loaded machine ufw's alone has taken 5 s, firewalld's 11 s).
      const reloadMs = Date.now() - t0;
      // The repair is timed as the bench times it: until status finds the integration and the
      // table whole again ("drift: none"). Timing it by traffic measured the probes as well: on a
      // machine loaded enough that firewalld's reload took 12 s, a 700 ms probe that started
      // just before the repair failed and counted (2.8 s, seen in CI).
      const restored = Date.now();
      for (;;) {
        const drift = (await host.status()).drift;
        if (drift.length === 0) break;
        if (Date.now() - restored > 5000) throw new Error(`still drifting 5 s after the reload: ${JSON.stringify(drift)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const ms = Date.now() - restored;
      expect(ms, `the repair took ${ms} ms after a reload of ${reloadMs} ms`).toBeLessThan(2000);
      // Whole again means working again, with no retry.
      await traffic();
    } finally {
      await controller.stop();
    }
  });

  it.runIf(kind === 'firewalld')('survives firewall-cmd --reload and a firewalld restart with no nftbridge process', async () => {
    await fw.reload();
    await traffic();
    await fw.restart?.();
    await traffic();
    expect((await host.status()).drift).toEqual([]);
  });

  it.runIf(kind === 'firewalld')('watch puts back a zone and policy an administrator deleted, on the Reloaded signal', async () => {
    const controller = host.controller({ resyncMs: 60_000 });
    const triggers: string[] = [];
    // Every convergence's reasons: the repair may start from any of the monitors, but the signal must arrive.
    for (const event of ['drift', 'idle'] as const) controller.hooks.on(event, (r) => triggers.push(...r.reasons.map((t) => t.source)));
    // The first convergence must be over before the deletes: one that reads the permanent config
    // between them puts the policy back, and the reload then refuses a policy whose zone is gone.
    const settled = new Promise<void>((resolve, reject) => {
      const timeout = setTimeout(() => reject(new Error('watch did not settle within 15 s of starting')), 15_000);
      controller.hooks.once('idle', () => resolve(clearTimeout(timeout)));
    });
    controller.start();
    try {
      await settled;
      await traffic();
      const cmd = (...args: string[]) => execa('firewall-cmd', args, { env: fw.env });
      // The zone first: a convergence between the two deletes (woken by the traffic's own
      // neighbour entries, say) then puts back a zone the policy names, and every state in
      // between reloads. The other order left a policy naming a deleted zone whenever the
      // watch put the policy back in between, and the reload below refused it (seen in CI).
      await cmd('--permanent', '--delete-zone=nftbridge');
      await cmd('--permanent', '--delete-policy=nftbridge-forward');
      await cmd('--reload');
      // The repair makes the zone and policy permanent again and has firewalld load them with a
      // reload of its own (firewalld makes zones only that way), seconds on a loaded machine: CI's
      // rootless pass took 2.9 s and 5.6 s. What is shown here is that the Reloaded signal starts
      // it (the resync is 60 s away). The 1 s / 2 s target is for the firewall's own reload, which
      // leaves nftbridge's permanent zone in place (above, and the bench's "firewalld reload ->
      // integration restored").
      const ms = await eventually(15_000);
      expect(ms).toBeLessThan(15_000);
      const until = Date.now() + 2000;
      while (!triggers.includes('firewalld') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect(triggers).toContain('firewalld');
      const zones = await cmd('--permanent', '--get-zones');
      expect(String(zones.stdout).split(' ')).toContain('nftbridge');
    } finally {
      await controller.stop();
    }
  });

  it.runIf(kind === 'ufw')('its accept rule stays listable and savable by iptables (iptables-nft)', async () => {
    for (const tool of ['iptables', 'ip6tables']) {
      const save = await execa('ip', ['netns', 'exec', lab.host, `${tool}-save`]);
      expect(String(save.stdout)).toContain(
        '-A FORWARD -m mark ! --mark 0x0/0xff000000 -m comment --comment "nftbridge: accept what nftbridge accepted (meta mark & 0xff000000)" -j ACCEPT',
      );
      const list = await execa('ip', ['netns', 'exec', lab.host, tool, '-L', 'FORWARD', '-n']);
      expect(String(list.stdout).split('\n')[2]).toMatch(/^ACCEPT .*mark match ! 0x0\/0xff000000 \/\* nftbridge: /);
    }
  });

  it.runIf(kind === 'nftables')('the CLI: status names the firewall and the marks, --host-firewall off and bad values', async () => {
    const g = ['--netns', lab.host, '--state-dir', lab.stateDir];
    const text = cliOk([...g, 'status']);
    expect(text).toContain('host firewall: nftables (inet filter); marks within 0xff000000');
    expect(text).toMatch(/inet filter forward \(forward, priority 0\): policy drop, nftbridge let through/);
    expect(text).toContain('mark of A: 0x01000000/0xff000000');
    const json = JSON.parse(cliOk([...g, '--json', 'status'])) as { hostFirewall: { firewalls: { kind: string }[]; blocks: string[] } };
    expect(json.hostFirewall.firewalls[0]?.kind).toBe('nftables');
    expect(json.hostFirewall.blocks).toEqual(['A', 'B', 'I']);
    expect(cliOk([...g, '--host-firewall', 'off', 'status'])).toContain('host firewall: integration off');
    expect(cli([...g, 'status'], { NFTBRIDGE_HOST_FIREWALL: 'off' }).stdout).toContain('integration off');
    const bad = cli([...g, '--mark-mask', '0xf0f0', 'status']);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/mark-mask/);
    const badMode = cli([...g, '--host-firewall', 'maybe', 'apply']);
    expect(badMode.status).toBe(2);
    expect(badMode.stderr).toMatch(/host-firewall/);
    // A foreign rule removed behind nftbridge's back is drift, and `apply` puts it back.
    const handle = /handle (\d+)/.exec(
      String((await execa('ip', ['netns', 'exec', lab.host, 'nft', '-a', 'list', 'chain', 'inet', 'filter', 'forward'])).stdout)
        .split('\n')
        .find((l) => l.includes('nftbridge:')) ?? '',
    )?.[1];
    await execa('ip', ['netns', 'exec', lab.host, 'nft', 'delete', 'rule', 'inet', 'filter', 'forward', 'handle', handle ?? '']);
    const drifted = cli([...g, 'status']);
    expect(drifted.stdout).toMatch(/host-firewall host firewall: no accept rule in inet filter forward \(policy drop\)/);
    await blocked(ns('a1'), UPLINK.outside, 80);
    cliOk([...g, 'apply']);
    await traffic();
  });

  it('a one-shot reuses the last look at the other tables only while nobody changed the ruleset', async () => {
    const options = {
      netns: lab.host,
      stateDir: lab.stateDir,
      ...(fw.env.DBUS_SYSTEM_BUS_ADDRESS ? { systemBus: fw.env.DBUS_SYSTEM_BUS_ADDRESS } : {}),
    };
    const looks = vi.spyOn(NftClient.prototype, 'listChains');
    let namespace: string | undefined;
    const oneShot = async () => {
      const h = await Host.open(options);
      try {
        await h.apply();
        namespace = h.nft.generationsOf;
      } finally {
        await h.close();
      }
    };
    // The namespace a kept look is of: this boot's id and the namespace's cookie, the same for
    // every process in the host namespace and another in any other namespace.
    await oneShot();
    expect(namespace).toMatch(/^[0-9a-f-]{36}\/\d+$/);
    const elsewhere = new NftClient(defaultRunner, 'inet', 'nftbridge', Lab.path(lab.outside), true);
    await elsewhere.generationNow();
    expect(elsewhere.generationsOf).toMatch(/^[0-9a-f-]{36}\/\d+$/);
    expect(elsewhere.generationsOf).not.toBe(namespace);
    await elsewhere.close();
    await host.firewall.generationNow();
    expect(host.nft.generationsOf).toBe(namespace);
    const nft = (...args: string[]) => execa('ip', ['netns', 'exec', lab.host, 'nft', ...args]);
    try {
      await oneShot();
      looks.mockClear();
      await oneShot();
      expect(looks).not.toHaveBeenCalled();
      await traffic();
      // Somebody else's change: under nftables and ufw, nftbridge's accept rule deleted; under
      // firewalld (whose rule is its zone, asked over D-Bus every time), a table of their own.
      if (kind === 'firewalld') await nft('add', 'table', 'ip', 'admin_scratch');
      else {
        const ruleset = JSON.parse(String((await nft('-j', 'list', 'ruleset')).stdout)) as {
          nftables: { rule?: { family: string; table: string; chain: string; handle: number; comment?: string } }[];
        };
        const ours = ruleset.nftables.flatMap((o) =>
          o.rule?.table !== 'nftbridge' && o.rule?.comment?.startsWith('nftbridge:') ? [o.rule] : [],
        );
        expect(ours.length).toBeGreaterThan(0);
        for (const r of ours) await nft('delete', 'rule', r.family, r.table, r.chain, 'handle', String(r.handle));
        await blocked(ns('a1'), UPLINK.outside, 80);
      }
      looks.mockClear();
      await oneShot();
      expect(looks).toHaveBeenCalled();
      await traffic();
      expect((await host.status()).drift).toEqual([]);
    } finally {
      looks.mockRestore();
      if (kind === 'firewalld') await nft('delete', 'table', 'ip', 'admin_scratch').catch(() => undefined);
    }
  });

  it('down leaves the firewall ruleset and configuration as they were', async () => {
    await host.down();
    expect(await fw.snapshot()).toBe(before);
  });
});
