/**
 * Scale scenarios (#14): every operation on a large host against the same operation on an empty
 * one, connect as a bridge fills up against the batched-ip floor at the same sizes, `down` of
 * hundreds of containers, and the watch daemon on a large host. Run from run.mts, which owns the
 * result table; everything here reports through the kit it is given.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { defaultRunner, Host, Ip, planPublish, renderRuleset, serialize } from '../dist/index.js';
import { Lab } from '../dist/lab/index.js';

export interface Row {
  variant: string;
  unit: string;
  median: number;
}
export interface BenchKit {
  tiny: boolean;
  record(scenario: string, variant: string, samples: number[], unit?: string, note?: string): Row;
  ratio(scenario: string, of: Row | undefined, to: Row | undefined, target?: string): void;
  ratioToLimit(scenario: string, of: Row, limit: number): void;
  newLab(): Promise<Lab>;
  time(fn: () => Promise<unknown>): Promise<number>;
  log(s: string): void;
}

const sizes = (tiny: boolean) =>
  tiny
    ? { ports: 200, endpoints: 20, networks: 5, rounds: 3, connectAt: [1, 10, 30], connectRounds: 3, down: 20, watchEndpoints: 20 }
    : {
        ports: 10000,
        endpoints: 500,
        networks: 5,
        rounds: 15,
        connectAt: [1, 100, 500, 1000],
        connectRounds: 10,
        down: 500,
        watchEndpoints: 1000,
      };

/** `n` published ports spread over the endpoints of the state, written as one state and applied once. */
async function spreadPorts(host: Host, n: number): Promise<void> {
  let state = await host.state();
  const eps = state.endpoints;
  const ports = [...state.ports];
  for (let i = 0; i < n; i++) {
    const ep = eps[i % eps.length];
    if (!ep) break;
    const planned = planPublish({ ...state, ports }, ep.network, ep.container, [`${10000 + i}:80`]);
    ports.push(...planned);
  }
  state = { ...state, ports };
  await host.store.write(state);
  await host.apply();
}

/** `count` containers on `network`, named from `prefix`. */
async function fill(host: Host, lab: Lab, network: string, prefix: string, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++) await host.connect(network, lab.name(`${prefix}${i}`));
}

interface OpSamples {
  connect: number[];
  disconnect: number[];
  publish: number[];
  unpublish: number[];
  create: number[];
  rm: number[];
  status: number[];
  apply: number[];
  /** The batched-ip floor of one attach, on a bridge of its own in the same host namespace. */
  floor: number[];
  /** The floor of one detach: that attach's veth deleted with one `ip link del`. */
  detachFloor: number[];
}

const noSamples = (): OpSamples => ({
  connect: [],
  disconnect: [],
  publish: [],
  unpublish: [],
  create: [],
  rm: [],
  status: [],
  apply: [],
  floor: [],
  detachFloor: [],
});

/** Rounds `from` to `from + rounds - 1` of every operation, on network `net`; container and network names are fresh each round. */
async function opRounds(kit: BenchKit, host: Host, lab: Lab, net: string, rounds: number, tag: string, from = 0): Promise<OpSamples> {
  const s = noSamples();
  for (let r = from; r < from + rounds; r++) {
    const box = lab.name(`${tag}${r}`);
    s.connect.push(await kit.time(() => host.connect(net, box)));
    // The cheap operations get more samples per round: a few milliseconds are easily moved by noise.
    for (let k = 0; k < 4; k++) {
      s.publish.push(await kit.time(() => host.publish(net, box, [`${5000 + k}:80`])));
      s.unpublish.push(await kit.time(() => host.unpublish(net, box, [`${5000 + k}`])));
    }
    s.disconnect.push(await kit.time(() => host.disconnect(net, box)));
    const name = `${tag}n${r}`;
    s.create.push(await kit.time(() => host.createNetwork({ name, subnet: `10.${tag === 'e' ? 201 : 202}.${r}.0/24` })));
    s.rm.push(await kit.time(() => host.removeNetwork(name)));
    s.status.push(await kit.time(() => host.status()));
    s.apply.push(await kit.time(() => host.apply()));
    // What the kernel alone makes of one more container on this host (no nftbridge involved).
    const fbox = lab.name(`${tag}f${r}`);
    s.floor.push(await kit.time(() => floorAttach(lab, fbox, 6000 + r, FLOOR_BRIDGE)));
    // And of one container fewer: its veth deleted, as a disconnect does (the namespace stays).
    s.detachFloor.push(await kit.time(() => defaultRunner.run('ip', ['-n', lab.host, 'link', 'del', `vf${6000 + r}`])));
    await defaultRunner.run('ip', ['netns', 'del', fbox]);
  }
  return s;
}

/** #14.1: a large host (ports, endpoints, networks) against an empty one, operation by operation. */
export async function benchLargeHost(kit: BenchKit): Promise<void> {
  const S = sizes(kit.tiny);
  const scenario = 'large host';
  kit.log(`» large host: ${S.ports} ports, ${S.endpoints} endpoints on ${S.networks} networks, against an empty host`);
  // Two hosts side by side, an empty one and a large one, whose rounds alternate (which goes first
  // too): measured one after the other, a change of the machine's phase in between (minutes of
  // filling the large host) moved these ratios by more than the target's 25%.
  const [emptyLab, largeLab] = [await kit.newLab(), await kit.newLab()];
  const emptyHost = await Host.open({ netns: emptyLab.host, stateDir: emptyLab.stateDir });
  const host = await Host.open({ netns: largeLab.host, stateDir: largeLab.stateDir });
  try {
    for (const [h, l] of [
      [emptyHost, emptyLab],
      [host, largeLab],
    ] as const) {
      await h.createNetwork({ name: 'n0', subnet: '10.80.0.0/16' });
      await floorBridge(l.host);
    }
    for (let n = 1; n < S.networks; n++) await host.createNetwork({ name: `n${n}`, subnet: `10.${80 + n}.0.0/16` });
    const per = Math.ceil(S.endpoints / S.networks);
    for (let n = 0; n < S.networks; n++) await fill(host, largeLab, `n${n}`, `b${n}x`, per);
    await spreadPorts(host, S.ports);
    // Warm-up: first uses (sessions, the nft version probe) are paid by neither side.
    await opRounds(kit, emptyHost, emptyLab, 'n0', 1, 'w');
    await opRounds(kit, host, largeLab, 'n0', 1, 'w');
    const [empty, large] = [noSamples(), noSamples()];
    const add = (to: OpSamples, more: OpSamples) => {
      for (const op of Object.keys(to) as (keyof OpSamples)[]) to[op].push(...more[op]);
    };
    for (let r = 0; r < S.rounds; r++) {
      const sides = [
        () => opRounds(kit, emptyHost, emptyLab, 'n0', 1, 'e', r).then((x) => add(empty, x)),
        () => opRounds(kit, host, largeLab, 'n0', 1, 'l', r).then((x) => add(large, x)),
      ];
      for (const side of r % 2 === 0 ? sides : sides.reverse()) await side();
    }
    const label = `${S.ports} ports, ${per * S.networks} endpoints, ${S.networks} networks`;
    const rows = new Map<keyof OpSamples, { empty: Row; large: Row }>();
    for (const op of Object.keys(empty) as (keyof OpSamples)[]) {
      const what = op === 'floor' ? 'batched ip attach (floor)' : op === 'detachFloor' ? 'ip link del of a veth (detach floor)' : op;
      const a = kit.record(scenario, `${what}, empty host (1 network)`, empty[op]);
      const b = kit.record(scenario, `${what}, ${label}`, large[op]);
      rows.set(op, { empty: a, large: b });
      if (op === 'apply') kit.ratioToLimit(scenario, b, 50);
      else if (op === 'floor' || op === 'detachFloor') kit.ratio(scenario, b, a);
      else kit.ratio(scenario, b, a, '<= 1.25');
    }
    // Which part of connect's growth is the kernel's: connect's share of the floor, large against empty.
    // Disconnect's the same way, against the detach floor.
    for (const [op, floorOp] of [
      ['connect', 'floor'],
      ['disconnect', 'detachFloor'],
    ] as const) {
      const c = rows.get(op);
      const f = rows.get(floorOp);
      if (c && f)
        kit.ratio(
          scenario,
          { variant: `${op}'s own share (to the floor), ${label}`, unit: 'x', median: c.large.median / f.large.median },
          { variant: `${op}'s own share (to the floor), empty host`, unit: 'x', median: c.empty.median / f.empty.median },
        );
    }
  } finally {
    await host.close();
    await emptyHost.close();
  }
}

const FLOOR_BRIDGE = 'floorbr';

/** A bridge for the batched-ip floor, in `netns`: 10.79.0.0/16, which no scenario's network uses. */
async function floorBridge(netns: string): Promise<void> {
  execFileSync('ip', ['-n', netns, 'link', 'add', FLOOR_BRIDGE, 'type', 'bridge']);
  execFileSync('ip', ['-n', netns, 'addr', 'add', '10.79.0.1/16', 'dev', FLOOR_BRIDGE]);
  execFileSync('ip', ['-n', netns, 'link', 'set', FLOOR_BRIDGE, 'up']);
}

/** The batched-ip floor for one attach (a namespace, a veth, its addresses and route) on `bridge`. */
async function floorAttach(lab: Lab, name: string, i: number, bridge: string): Promise<void> {
  await defaultRunner.run('ip', ['netns', 'add', name]);
  await new Ip(defaultRunner, Lab.path(lab.host)).batch([
    ['link', 'add', `vf${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', Lab.path(name)],
    ['link', 'set', `vf${i}`, 'master', bridge, 'up'],
  ]);
  await new Ip(defaultRunner, Lab.path(name)).batch([
    ['link', 'set', 'lo', 'up'],
    ['addr', 'add', `10.79.${Math.floor(i / 250)}.${(i % 250) + 2}/16`, 'dev', 'eth0'],
    ['link', 'set', 'eth0', 'up'],
    ['route', 'add', 'default', 'via', '10.79.0.1'],
  ]);
}

/** #14.2: connect as one bridge fills up, against the batched-ip floor on a host of the same size. */
export async function benchConnectScaling(kit: BenchKit): Promise<void> {
  const S = sizes(kit.tiny);
  const scenario = 'connect by endpoints on one bridge';
  kit.log(`» connect at ${S.connectAt.join(', ')} endpoints on one bridge, against the batched-ip floor`);
  const lab = await kit.newLab();
  const floorLab = await kit.newLab();
  const host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
  await floorBridge(floorLab.host);
  try {
    await host.createNetwork({ name: 's', subnet: '10.78.0.0/16' });
    const shares: { n: number; ours: Row; floor: Row; own: Row; ownUser: Row }[] = [];
    let have = 0;
    let floorHave = 0;
    for (const n of S.connectAt) {
      await fill(host, lab, 's', 'f', n - have, have);
      have = n;
      for (; floorHave < n; floorHave++) await floorAttach(floorLab, floorLab.name(`f${floorHave}`), floorHave, FLOOR_BRIDGE);
      const ours: number[] = [];
      const floor: number[] = [];
      const cpu: number[] = [];
      const user: number[] = [];
      for (let r = 0; r < S.connectRounds; r++) {
        const box = lab.name(`m${n}x${r}`);
        const before = process.cpuUsage();
        ours.push(await kit.time(() => host.connect('s', box)));
        const used = process.cpuUsage(before);
        cpu.push((used.user + used.system) / 1000);
        user.push(used.user / 1000);
        await host.disconnect('s', box);
        const fbox = floorLab.name(`m${n}x${r}`);
        const idx = 5000 + r;
        floor.push(await kit.time(() => floorAttach(floorLab, fbox, idx, FLOOR_BRIDGE)));
        await defaultRunner.run('ip', ['netns', 'del', fbox]);
        await defaultRunner.run('ip', ['-n', floorLab.host, 'link', 'del', `vf${idx}`]).catch(() => undefined);
      }
      const a = kit.record(scenario, `nftbridge connect, ${n} endpoints`, ours);
      const b = kit.record(scenario, `batched ip (floor), ${n} endpoints`, floor);
      kit.ratio(scenario, a, b);
      // The same rounds as a difference: the floor starts three processes where connect starts one,
      // so connect is below the floor, and the kernel's growth alone moves the ratio towards 1.
      // A difference that stays level is nftbridge's own part staying level.
      kit.record(
        scenario,
        `nftbridge connect minus the floor, ${n} endpoints`,
        ours.map((x, i) => x - (floor[i] ?? NaN)),
      );
      // What nftbridge's own process spends on a connect (its children, ip and nft, and the kernel
      // work they ask for are not in it).
      const own = kit.record(scenario, `nftbridge connect, CPU of its own process, ${n} endpoints`, cpu, 'ms CPU');
      // Its user part alone is nftbridge's code; the system part also grows with the cost of
      // starting each child from a larger process.
      const ownUser = kit.record(scenario, `nftbridge connect, user CPU of its own process, ${n} endpoints`, user, 'ms CPU');
      shares.push({ n, ours: a, floor: b, own, ownUser });
    }
    const first = shares[0];
    const last = shares.at(-1);
    if (first && last && last !== first) {
      const grows = last.ours.median / last.floor.median / (first.ours.median / first.floor.median);
      kit.ratio(
        scenario,
        { variant: `own share (to the floor) at ${last.n}`, unit: 'x', median: grows },
        { variant: `own share at ${first.n}`, unit: 'x', median: 1 },
        '<= 1.25 (does not grow)',
      );
      // The floor's own growth, so a reader sees which part is the kernel's.
      kit.ratio(scenario, last.floor, first.floor);
      kit.ratio(scenario, last.own, first.own);
      kit.ratio(scenario, last.ownUser, first.ownUser);
    }
  } finally {
    await host.close();
  }
}

/** #14.3: `down` with many containers (ports too): one batch per kind of object, not one process each. */
export async function benchDown(kit: BenchKit): Promise<void> {
  const S = sizes(kit.tiny);
  const scenario = 'down';
  kit.log(`» down with ${S.down} containers`);
  const lab = await kit.newLab();
  const host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
  try {
    await host.createNetwork({ name: 'd0', subnet: '10.77.0.0/16' });
    await host.createNetwork({ name: 'd1', subnet: '10.76.0.0/16' });
    await fill(host, lab, 'd0', 'd', Math.ceil(S.down / 2));
    await fill(host, lab, 'd1', 'e', Math.floor(S.down / 2));
    await spreadPorts(host, S.down * 2);
    const took = await kit.time(() => host.down());
    const left = readdirSync('/run/netns').filter((n) => n.startsWith(lab.name('d')) || n.startsWith(lab.name('e')));
    if (left.length > 0) throw new Error(`down left ${left.length} namespaces`);
    kit.ratioToLimit(scenario, kit.record(scenario, `down, ${S.down} containers on 2 networks`, [took]), 5000);
  } finally {
    await host.close();
  }
}

/** CPU seconds (user + system) of a process and its children alive now (the daemon's ip and nft sessions). */
function treeCpu(pid: number): number {
  const tick = 100;
  let sum = 0;
  const kids = new Map<number, number[]>();
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(f[1]);
      const list = kids.get(ppid) ?? [];
      list.push(Number(d));
      kids.set(ppid, list);
    } catch {
      // Gone meanwhile.
    }
  }
  const walk = (p: number) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      sum += (Number(f[11]) + Number(f[12])) / tick;
    } catch {
      return;
    }
    for (const k of kids.get(p) ?? []) walk(k);
  };
  walk(pid);
  return sum;
}

/** #14.4: the watch daemon with many endpoints and ports: memory, an idle resync's CPU, repair of a deleted table. */
export async function benchWatchScale(kit: BenchKit): Promise<void> {
  const S = sizes(kit.tiny);
  const scenario = 'watch on a large host';
  kit.log(`» watch with ${S.watchEndpoints} endpoints and ${S.ports} ports`);
  const lab = await kit.newLab();
  const host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
  await host.createNetwork({ name: 'w', subnet: '10.75.0.0/16' });
  await fill(host, lab, 'w', 'w', S.watchEndpoints);
  await spreadPorts(host, S.ports);
  // The floor of a repair: nft alone loading the same table into the same namespace after the
  // same delete (one process, as a runtime without a daemon would), before watch runs.
  const doc = join(lab.stateDir, 'table.json');
  writeFileSync(doc, serialize(renderRuleset(await host.state())));
  // Alternated with the same load as distributions start nft (no GLIBC_TUNABLES): what the
  // huge-page heap nftbridge gives its nft processes (exec/runner.ts, childEnv) saves.
  const alone: number[] = [];
  const plain: number[] = [];
  const plainNft = () =>
    execa('nsenter', [`--net=${Lab.path(lab.host)}`, '--', 'nft', '-j', '-f', doc], {
      env: { PATH: process.env.PATH, LC_ALL: 'C' },
      extendEnv: false,
    });
  for (let r = 0; r < (kit.tiny ? 3 : 9); r++) {
    await defaultRunner.run('nft', ['delete', 'table', 'inet', 'nftbridge'], { netns: Lab.path(lab.host) });
    alone.push(await kit.time(() => defaultRunner.run('nft', ['-j', '-f', doc], { netns: Lab.path(lab.host) })));
    await defaultRunner.run('nft', ['delete', 'table', 'inet', 'nftbridge'], { netns: Lab.path(lab.host) });
    plain.push(await kit.time(plainNft));
  }
  const floor = kit.record(scenario, 'nft -j -f of the same table after the same delete (floor)', alone);
  kit.ratio(scenario, floor, kit.record(scenario, 'the same, nft started with no GLIBC_TUNABLES (a 4 KB-page heap)', plain));
  await host.apply();
  await host.close();
  const cli = new URL('../dist/cli/main.js', import.meta.url).pathname;
  const resyncMs = 2000;
  const child = execa(cli, ['--netns', lab.host, '--state-dir', lab.stateDir, '--json', 'watch', '--resync-ms', String(resyncMs)], {
    buffer: false,
    reject: false,
  });
  const seen: { type: string; at: number }[] = [];
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const type = /"type":"([a-z-]+)"/.exec(buf.slice(0, i))?.[1];
      if (type) seen.push({ type, at: performance.now() });
      buf = buf.slice(i + 1);
    }
  });
  const waitFor = async (type: string, after: number, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = seen.find((s, i) => i >= after && s.type === type);
      if (hit) return hit.at;
      if (Date.now() > deadline) throw new Error(`watch: no "${type}" event`);
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  try {
    await waitFor('idle', 0);
    // Idle resyncs: the daemon's CPU (and its ip and nft sessions') over several, per resync.
    const rounds = kit.tiny ? 2 : 6;
    const cpu: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const from = seen.length;
      const before = treeCpu(child.pid ?? 0);
      await waitFor('idle', from, resyncMs * 3);
      cpu.push((treeCpu(child.pid ?? 0) - before) * 1000);
    }
    kit.ratioToLimit(
      scenario,
      kit.record(scenario, 'idle resync: CPU of the daemon and its sessions', cpu, 'ms CPU', 'clock ticks of 10 ms'),
      50,
    );
    const repairs: number[] = [];
    for (let r = 0; r < (kit.tiny ? 3 : 15); r++) {
      const from = seen.length;
      await defaultRunner.run('nft', ['delete', 'table', 'inet', 'nftbridge'], { netns: Lab.path(lab.host) });
      const t0 = performance.now();
      repairs.push((await waitFor('applied', from, 10_000)) - t0);
      await new Promise((res) => setTimeout(res, 150));
    }
    const repaired = kit.record(scenario, 'nft delete table -> table restored', repairs);
    kit.ratioToLimit(scenario, repaired, 50);
    kit.ratio(scenario, repaired, floor);
    kit.ratioToLimit(scenario, floor, 50);
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
    kit.ratioToLimit(scenario, kit.record(scenario, `RSS (peak ${hwm.toFixed(0)} MB)`, [rss], 'MB'), 150);
  } finally {
    child.kill('SIGTERM');
    await child;
  }
}
