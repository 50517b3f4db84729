/**
 * The CNI plugin as runtimes drive it: through libcni itself (a small Go client built from
 * Debian's libcni sources) and by hand (env + stdin, as the spec defines), in a lab host with real
 * traffic. The engines themselves (Podman, containerd) are in cni-engines.test.ts.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Lab, UPLINK } from '../../src/lab/lab.js';
import { send, serve, type Server } from '../../src/lab/traffic.js';
import { CLI, cli } from '../helpers/cli.js';
import { stopHelpers } from '../helpers/cni.js';
import { describeKernel } from '../helpers/kernel.js';

/** Helpers leave soon after the last call, so none outlives the test file by much. */
const HELPER_ENV = { NFTBRIDGE_CNI_HELPER_IDLE_MS: '3000' };

describeKernel('CNI plugin', () => {
  let lab: Lab;
  let dir: string;
  let bin: string;
  let driver: string;
  let stateDir: string;
  let runDir: string;
  const servers: Server[] = [];
  const conf = (extra: Record<string, unknown> = {}, version = '1.0.0') => ({
    cniVersion: version,
    name: 'cninet',
    plugins: [
      {
        type: 'nftbridge',
        bridge: 'cni-nb0',
        subnet: '10.77.0.0/24',
        stateDir,
        capabilities: { portMappings: true, ips: true, mac: true },
        ...extra,
      },
    ],
  });
  const writeConf = async (name: string, c: object) => {
    const f = join(dir, `${name}.conflist`);
    await writeFile(f, JSON.stringify(c));
    return f;
  };
  /** libcni, as a runtime runs it, from inside the lab's host namespace. */
  const libcni = (
    cmd: 'add' | 'check' | 'del',
    file: string,
    id: string,
    netns: string,
    ifname = 'eth0',
    caps?: object,
    cniArgs?: string,
  ) =>
    execa('ip', ['netns', 'exec', lab.host, driver, cmd, file, id, netns, ifname, ...(caps ? [JSON.stringify(caps)] : [])], {
      env: {
        CNI_PATH: `${bin}:/usr/lib/cni`,
        DRIVER_CACHE_DIR: join(dir, 'cache'),
        ...HELPER_ENV,
        ...(cniArgs ? { DRIVER_CNI_ARGS: cniArgs } : {}),
      },
      reject: false,
    });
  /** The plugin by hand: env and stdin exactly as the spec defines them. */
  const direct = (env: Record<string, string>, stdin: object | string) =>
    execa('ip', ['netns', 'exec', lab.host, join(bin, 'nftbridge')], {
      env: { CNI_PATH: `${bin}:/usr/lib/cni`, ...HELPER_ENV, ...env },
      input: typeof stdin === 'string' ? stdin : JSON.stringify(stdin),
      reject: false,
    });
  const pluginConf = (version = '1.0.0', extra: Record<string, unknown> = {}) => ({
    ...conf(extra, version).plugins[0],
    cniVersion: version,
    name: 'cninet',
  });
  const container = async (role: string) => {
    const name = lab.name(role);
    execFileSync('ip', ['netns', 'add', name]);
    execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return Lab.path(name);
  };
  /** The CLI in the lab host's namespace, where the plugin runs: the same state file (one per namespace). */
  const hostStatus = () =>
    JSON.parse(
      execFileSync('ip', ['netns', 'exec', lab.host, process.execPath, CLI, '--state-dir', stateDir, '--json', 'status'], {
        encoding: 'utf8',
      }),
    );
  const hostLinks = () => execFileSync('ip', ['-n', lab.host, '-o', 'link', 'show'], { encoding: 'utf8' }).replace(/\d+: /g, '');
  const hostTables = () => execFileSync('ip', ['netns', 'exec', lab.host, 'nft', 'list', 'tables'], { encoding: 'utf8' });

  beforeAll(async () => {
    lab = await Lab.create();
    dir = await mkdtemp(join(tmpdir(), 'nftbridge-cni-'));
    bin = join(dir, 'bin');
    stateDir = join(dir, 'state');
    // As users do it: the built CLI (its launcher starts the built plugin).
    runDir = join(dir, 'run');
    expect(cli(['cni', 'install', '--dir', bin, '--run-dir', runDir]).status).toBe(0);
    driver = join(dir, 'libcni-driver');
    execFileSync('go', ['build', '-o', driver, new URL('../cni/libcni-driver.go', import.meta.url).pathname], {
      env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: join(dir, 'gocache'), HOME: dir },
    });
    servers.push(await serve(Lab.path(lab.outside), 'tcp', 80, 'outside'));
  }, 120_000);

  afterAll(async () => {
    for (const s of servers) await s.stop();
    await stopHelpers(runDir);
    await lab?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('nftbridge cni install writes an executable plugin, idempotently, and VERSION answers without Node in under 10 ms', async () => {
    const r = cli(['cni', 'install', '--dir', bin, '--run-dir', runDir]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('already installed');
    // The CLI is a bundle one folder over (dist/cli/main.js): the launcher still names the plugin's own.
    const launcher = readFileSync(join(bin, 'nftbridge'), 'utf8');
    expect(launcher).toContain(fileURLToPath(new URL('../../dist/cni/plugin.mjs', import.meta.url)));
    const v = await execa(join(bin, 'nftbridge'), [], {
      env: { CNI_COMMAND: 'VERSION', CNI_NETNS: 'dummy' },
      input: '{"cniVersion":"1.0.0"}',
    });
    expect(JSON.parse(String(v.stdout)).supportedVersions).toEqual(expect.arrayContaining(['0.4.0', '1.0.0', '1.1.0']));
    // Without Node: the same launcher with Node and perl made unreachable still answers.
    const noNode = join(dir, 'no-node-launcher');
    const broken = launcher
      .split(process.execPath)
      .join('/nonexistent/node')
      .replace(/exec perl /g, 'exec /nonexistent/perl ');
    // Both were there to break: the launcher names this Node and starts perl for other commands.
    expect(broken).toContain('/nonexistent/node');
    expect(broken).toContain('exec /nonexistent/perl ');
    expect(broken).not.toContain(process.execPath);
    await writeFile(noNode, broken, { mode: 0o755 });
    const v2 = await execa(noNode, [], { env: { CNI_COMMAND: 'VERSION', CNI_NETNS: 'dummy' }, input: '{"cniVersion":"1.0.0"}' });
    expect(String(v2.stdout)).toBe(String(v.stdout));
    // Timed as a runtime's fork and exec sees it, from a shell loop (Node's own spawn costs more),
    // against the same loop starting /bin/true in the same round: what the launcher costs beyond
    // any program's start, which on some machines is 4 ms by itself and more while the other test
    // files load both cores. The absolute figure is the bench's (README, "CNI: VERSION").
    const loop = (cmd: string) =>
      `TIMEFORMAT=%R; time (for i in $(seq 20); do echo '{"cniVersion":"1.0.0"}' | CNI_COMMAND=VERSION CNI_NETNS=dummy ${cmd} >/dev/null; done) 2>&1`;
    const perCall = async (cmd: string) => {
      const out = await execa('bash', ['-c', loop(cmd), 'v', join(bin, 'nftbridge')]);
      return (Number(String(out.stdout).trim().split('\n').pop()) * 1000) / 20;
    };
    const beyond: number[] = [];
    for (let round = 0; round < 10 && !(Math.min(...beyond) < 10); round++) {
      const exec = await perCall('/bin/true');
      beyond.push((await perCall('"$1"')) - exec);
    }
    expect(Math.min(...beyond)).toBeLessThan(10);
  });

  it('ADD through libcni: result with interfaces, ips pointing at the sandbox interface, routes; egress masqueraded, c2c, a published port', async () => {
    const file = await writeConf('main', conf());
    const ns1 = await container('c1');
    const ns2 = await container('c2');
    const r1 = await libcni('add', file, 'a'.repeat(64), ns1, 'eth0', {
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
    });
    expect(r1.stderr).toBe('');
    const res = JSON.parse(String(r1.stdout)) as {
      interfaces: { name: string; mac: string; sandbox?: string }[];
      ips: { address: string; gateway: string; interface: number }[];
      routes: { dst: string }[];
    };
    const sandbox = res.interfaces[res.ips[0]?.interface ?? -1];
    expect(sandbox).toMatchObject({ name: 'eth0', sandbox: ns1 });
    for (const i of res.interfaces) expect(i.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(res.ips[0]).toMatchObject({ address: '10.77.0.2/24', gateway: '10.77.0.1' });
    expect(res.routes).toContainEqual(expect.objectContaining({ dst: '0.0.0.0/0' }));
    const r2 = await libcni('add', file, 'b'.repeat(64), ns2);
    expect(r2.stderr).toBe('');
    servers.push(await serve(ns1, 'tcp', 80, 'c1'));
    const egress = await send(ns1, 'tcp', UPLINK.outside, 80, 'x');
    expect(egress.peer).toBe(UPLINK.host);
    expect((await send(ns2, 'tcp', '10.77.0.2', 80, 'x')).server).toBe('c1');
    expect((await send(Lab.path(lab.outside), 'tcp', UPLINK.host, 8080, 'x')).server).toBe('c1');
    // The CLI sees the attachments: container = CNI_CONTAINERID.
    const status = hostStatus() as {
      state: { endpoints: { container: string; ifname: string }[]; ports: { hostPort: number }[] };
      drift: unknown[];
    };
    expect(status.state.endpoints.map((e) => [e.container, e.ifname])).toEqual([
      ['a'.repeat(64), 'eth0'],
      ['b'.repeat(64), 'eth0'],
    ]);
    expect(status.state.ports.map((p) => p.hostPort)).toEqual([8080]);
    expect(status.drift).toEqual([]);
    expect((await libcni('check', file, 'a'.repeat(64), ns1)).stderr).toBe('');
    // A second ADD for the same container and interface is an error.
    const again = await direct({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'a'.repeat(64), CNI_NETNS: ns1, CNI_IFNAME: 'eth0' }, pluginConf());
    expect(again.exitCode).not.toBe(0);
    expect(JSON.parse(String(again.stdout))).toMatchObject({ cniVersion: '1.0.0', code: 100 });
    // CHECK finds an address removed behind its back.
    execFileSync('nsenter', [`--net=${ns1}`, 'ip', 'addr', 'flush', 'dev', 'eth0']);
    const broken = await libcni('check', file, 'a'.repeat(64), ns1);
    expect(broken.exitCode).not.toBe(0);
    expect(broken.stderr).toMatch(/10\.77\.0\.2/);
    for (const [id, ns] of [
      ['a'.repeat(64), ns1],
      ['b'.repeat(64), ns2],
    ] as const)
      expect((await libcni('del', file, id, ns)).stderr).toBe('');
  });

  it('after the first call a resident helper serves the next ones (no Node start), in this namespace only; a killed one is replaced', async () => {
    const file = await writeConf('helper', conf());
    const ns = await container('h1');
    // Node starts are counted, not guessed from timings: for this test the launcher runs Node
    // through a wrapper that notes each start in a file.
    const launcher = join(bin, 'nftbridge');
    const installed = await readFile(launcher, 'utf8');
    const starts = join(dir, 'node-starts');
    const wrapper = join(dir, 'counting-node');
    await writeFile(wrapper, `#!/bin/sh\necho x >> '${starts}'\nexec '${process.execPath}' "$@"\n`, { mode: 0o755 });
    expect(installed).toContain(`'${process.execPath}'`);
    await writeFile(launcher, installed.replaceAll(`'${process.execPath}'`, `'${wrapper}'`), { mode: 0o755 });
    const nodeStarts = async () => (await readFile(starts, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
    try {
      const timed = async (fn: () => Promise<unknown>) => {
        const t = performance.now();
        await fn();
        return performance.now() - t;
      };
      // The first call may start a helper; then ADD and DEL go through it.
      expect((await libcni('add', file, 'h1', ns)).stderr).toBe('');
      expect((await libcni('del', file, 'h1', ns)).stderr).toBe('');
      const sockets = (await readdir(runDir)).filter((n) => n.endsWith('.sock'));
      expect(sockets).toHaveLength(1);
      const hostNs = /(\d+)/.exec(
        execFileSync('ip', ['netns', 'exec', lab.host, 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' }),
      )?.[1];
      expect(sockets[0]).toBe(`cni-${hostNs}.sock`);
      const pid = Number((await readFile(join(runDir, `${sockets[0]}.pid`), 'utf8')).trim());
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain('--serve');
      const fast: number[] = [];
      const startsBefore = await nodeStarts();
      for (let i = 0; i < 5; i++)
        fast.push(
          await timed(async () => {
            expect((await libcni('add', file, 'h1', ns)).stderr).toBe('');
            expect((await libcni('del', file, 'h1', ns)).stderr).toBe('');
          }),
        );
      // Ten calls, all served by the helper: not one Node start. (The wrapper itself is shown to
      // count below, where a killed helper makes the launcher run Node.)
      expect(await nodeStarts()).toBe(startsBefore);
      fast.sort((a, b) => a - b);
      // And it shows: two calls, libcni's own Go start included, well under a second even on a loaded CI machine.
      expect(fast[2]).toBeLessThan(1000);
      // A helper killed hard: its socket refuses, the next call runs Node and leaves a new helper.
      process.kill(pid, 'SIGKILL');
      expect((await libcni('add', file, 'h1', ns)).stderr).toBe('');
      expect(await nodeStarts()).toBeGreaterThan(startsBefore);
      expect((await libcni('del', file, 'h1', ns)).stderr).toBe('');
      for (let i = 0; i < 50; i++) {
        const again = Number((await readFile(join(runDir, `${sockets[0]}.pid`), 'utf8').catch(() => '0')).trim());
        if (again > 0 && again !== pid) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(Number((await readFile(join(runDir, `${sockets[0]}.pid`), 'utf8')).trim())).not.toBe(pid);
    } finally {
      await writeFile(launcher, installed, { mode: 0o755 });
    }
  });

  it('every conflist key (dual stack, gateway, mtu, icc), a hostIP mapping, CHECK of routes and of an unknown container, and watch repairing an attachment', async () => {
    const file = await writeConf('keys', {
      cniVersion: '1.0.0',
      name: 'keys',
      plugins: [
        {
          type: 'nftbridge',
          bridge: 'cni-nb2',
          subnets: ['10.76.0.0/24', 'fd00:76::/64'],
          gateway: '10.76.0.254',
          mtu: 1400,
          icc: false,
          stateDir,
          capabilities: { portMappings: true },
        },
      ],
    });
    const [ns1, ns2] = [await container('k1'), await container('k2')];
    const caps = { portMappings: [{ hostPort: 8090, containerPort: 80, protocol: 'tcp', hostIP: UPLINK.host }] };
    const r1 = await libcni('add', file, 'k1', ns1, 'eth0', caps);
    expect(r1.stderr).toBe('');
    const res = JSON.parse(String(r1.stdout)) as { ips: { address: string; gateway: string }[] };
    expect(res.ips.map((i) => i.address)).toEqual(['10.76.0.1/24', 'fd00:76::2/64']);
    expect(res.ips[0]?.gateway).toBe('10.76.0.254');
    expect((await libcni('add', file, 'k2', ns2)).stderr).toBe('');
    const link = JSON.parse(execFileSync('nsenter', [`--net=${ns1}`, 'ip', '-j', 'link', 'show', 'eth0'], { encoding: 'utf8' })) as {
      mtu: number;
    }[];
    expect(link[0]?.mtu).toBe(1400);
    servers.push(await serve(ns1, 'tcp', 80, 'k1'));
    expect((await send(Lab.path(lab.outside), 'tcp', UPLINK.host, 8090, 'x')).server).toBe('k1');
    // icc false: the neighbour on the same network cannot reach it.
    await expect(send(ns2, 'tcp', '10.76.0.1', 80, 'x', 800)).rejects.toThrow();
    expect((await libcni('check', file, 'k1', ns1)).stderr).toBe('');
    execFileSync('nsenter', [`--net=${ns1}`, 'ip', 'route', 'del', 'default']);
    const noRoute = await libcni('check', file, 'k1', ns1);
    expect(noRoute.exitCode).not.toBe(0);
    expect(noRoute.stderr).toMatch(/route 0\.0\.0\.0\/0 via 10\.76\.0\.254 is missing/);
    execFileSync('nsenter', [`--net=${ns1}`, 'ip', 'route', 'add', 'default', 'via', '10.76.0.254']);
    const unknown = await direct(
      { CNI_COMMAND: 'CHECK', CNI_CONTAINERID: 'nobody', CNI_NETNS: ns1, CNI_IFNAME: 'eth0' },
      { ...pluginConf(), name: 'keys' },
    );
    expect(JSON.parse(String(unknown.stdout)).code).toBe(3);
    // The CLI's watch, on the same state, repairs what CNI attached: a deleted table comes back.
    const watch = spawn('ip', ['netns', 'exec', lab.host, process.execPath, CLI, '--state-dir', stateDir, 'watch'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 1500));
      execFileSync('ip', ['netns', 'exec', lab.host, 'nft', 'delete', 'table', 'inet', 'nftbridge']);
      let back = false;
      for (let i = 0; i < 40 && !back; i++) {
        await new Promise((r) => setTimeout(r, 50));
        back = hostTables().includes('table inet nftbridge');
      }
      expect(back).toBe(true);
      expect((await send(Lab.path(lab.outside), 'tcp', UPLINK.host, 8090, 'x')).server).toBe('k1');
    } finally {
      watch.kill('SIGTERM');
      await new Promise((r) => watch.once('exit', r));
    }
    for (const [id, n] of [
      ['k1', ns1],
      ['k2', ns2],
    ] as const)
      expect((await libcni('del', file, id, n)).stderr).toBe('');
    // "internal": no default route in the result nor in the container; "dns" passed through.
    const internal = await writeConf('internal', {
      cniVersion: '1.0.0',
      name: 'internal',
      plugins: [
        { type: 'nftbridge', bridge: 'cni-nb3', subnet: '10.75.0.0/24', internal: true, stateDir, dns: { nameservers: ['10.75.0.53'] } },
      ],
    });
    const ns3 = await container('k3');
    const r3 = await libcni('add', internal, 'k3', ns3);
    expect(r3.stderr).toBe('');
    const res3 = JSON.parse(String(r3.stdout)) as { routes?: unknown[]; dns: { nameservers: string[] } };
    expect(res3.routes ?? []).toEqual([]);
    expect(res3.dns.nameservers).toEqual(['10.75.0.53']);
    expect(execFileSync('nsenter', [`--net=${ns3}`, 'ip', 'route', 'show', 'default'], { encoding: 'utf8' }).trim()).toBe('');
    await expect(send(ns3, 'tcp', UPLINK.outside, 80, 'x', 800)).rejects.toThrow();
    expect((await libcni('del', internal, 'k3', ns3)).stderr).toBe('');
    // An unreadable state is the spec's I/O error (5).
    const broken = join(dir, 'broken-state');
    await execa('mkdir', ['-p', '-m', '0700', broken]);
    await writeFile(join(broken, 'host.json'), '{ torn');
    const io = await direct(
      { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'io', CNI_NETNS: ns3, CNI_IFNAME: 'eth0' },
      { ...pluginConf(), stateDir: broken },
    );
    expect(JSON.parse(String(io.stdout)).code).toBe(5);
  });

  it('DEL is best effort and idempotent: twice, without prevResult, with the namespace gone, with CNI_NETNS empty', async () => {
    const links = hostLinks();
    const tables = hostTables();
    const file = await writeConf('del', conf());
    const ns = await container('d1');
    expect((await libcni('add', file, 'ctr-d1', ns)).stderr).toBe('');
    const env = { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'ctr-d1', CNI_IFNAME: 'eth0' };
    execFileSync('ip', ['netns', 'del', lab.name('d1')]);
    // The namespace is gone and ctr sends no CNI_NETNS: everything goes anyway, from the state.
    const first = await direct({ ...env, CNI_NETNS: '' }, pluginConf());
    expect(first.exitCode, String(first.stdout)).toBe(0);
    expect((await direct({ ...env, CNI_NETNS: ns }, pluginConf())).exitCode).toBe(0);
    expect((await direct(env, pluginConf('0.4.0'))).exitCode).toBe(0);
    expect(hostLinks()).toBe(links);
    expect(hostTables()).toBe(tables);
    // A DEL of something never added, as Podman sends after a failed ADD.
    expect((await direct({ ...env, CNI_CONTAINERID: 'never-added' }, pluginConf())).exitCode).toBe(0);
  });

  it('results in the version asked for (0.4.0 carries ips[].version), and the spec error codes', async () => {
    const ns = await container('v1');
    const add = await direct({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'v1', CNI_NETNS: ns, CNI_IFNAME: 'eth0' }, pluginConf('0.4.0'));
    expect(add.exitCode, String(add.stdout)).toBe(0);
    expect(JSON.parse(String(add.stdout))).toMatchObject({ cniVersion: '0.4.0', ips: [{ version: '4', interface: 2 }] });
    expect(
      (await direct({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'v1', CNI_NETNS: ns, CNI_IFNAME: 'eth0' }, pluginConf('0.4.0'))).exitCode,
    ).toBe(0);
    const code = async (env: Record<string, string>, stdin: object | string) => {
      const r = await direct(env, stdin);
      expect(r.exitCode).not.toBe(0);
      const err = JSON.parse(String(r.stdout)) as { code: number; msg: string };
      expect(err.msg).not.toBe('');
      return err.code;
    };
    const base = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'e1', CNI_NETNS: ns, CNI_IFNAME: 'eth0' };
    expect(await code(base, { ...pluginConf(), cniVersion: '9.9.9' })).toBe(1);
    expect(await code({ ...base, CNI_NETNS: '' }, pluginConf())).toBe(4);
    expect(await code({ ...base, CNI_COMMAND: 'FROB' }, pluginConf())).toBe(4);
    expect(await code(base, '{not json')).toBe(6);
    expect(await code(base, { ...pluginConf(), name: 'other', subnet: '10.78.0.0/33' })).toBe(7);
    expect(await code(base, { ...pluginConf(), mtu: 'big' })).toBe(7);
  });

  it('IPAM: host-local when an ipam section is given; Podman CNI_ARGS IP= and MAC=; runtimeConfig ips and mac', async () => {
    const ipamConf = {
      cniVersion: '1.0.0',
      name: 'ipamnet',
      plugins: [
        {
          type: 'nftbridge',
          bridge: 'cni-nb1',
          stateDir,
          ipam: { type: 'host-local', ranges: [[{ subnet: '10.79.0.0/24' }]], dataDir: join(dir, 'host-local') },
        },
      ],
    };
    const file = await writeConf('ipam', ipamConf);
    const ns = await container('i1');
    const r = await libcni('add', file, 'i1', ns);
    expect(r.stderr).toBe('');
    expect(JSON.parse(String(r.stdout)).ips[0].address).toBe('10.79.0.2/24');
    expect((await libcni('del', file, 'i1', ns)).stderr).toBe('');
    // Podman's --ip/--mac-address arrive in CNI_ARGS, even with the capabilities declared.
    const file2 = await writeConf('args', conf());
    const ns2 = await container('i2');
    const r2 = await libcni(
      'add',
      file2,
      'i2',
      ns2,
      'eth0',
      undefined,
      'IgnoreUnknown=1;K8S_POD_NAME=x;IP=10.77.0.42;MAC=02:00:00:00:00:42',
    );
    expect(r2.stderr).toBe('');
    const res = JSON.parse(String(r2.stdout)) as { ips: { address: string }[]; interfaces: { name: string; mac: string }[] };
    expect(res.ips[0]?.address).toBe('10.77.0.42/24');
    expect(res.interfaces[2]?.mac).toBe('02:00:00:00:00:42');
    const ns3 = await container('i3');
    const r3 = await libcni('add', file2, 'i3', ns3, 'eth0', { ips: ['10.77.0.43/24'], mac: '02:00:00:00:00:43' });
    expect(JSON.parse(String(r3.stdout)).ips[0].address).toBe('10.77.0.43/24');
    for (const [id, n] of [
      ['i2', ns2],
      ['i3', ns3],
    ] as const)
      expect((await libcni('del', file2, id, n)).stderr).toBe('');
  });

  it('GC removes every attachment not in cni.dev/valid-attachments; STATUS says whether it can work', async () => {
    const file = await writeConf('gc', conf());
    const ns = [await container('g1'), await container('g2')];
    for (const [i, n] of ns.entries()) expect((await libcni('add', file, `g${i}`, n)).stderr).toBe('');
    const gc = await direct(
      { CNI_COMMAND: 'GC' },
      { ...pluginConf('1.1.0'), 'cni.dev/valid-attachments': [{ containerID: 'g0', ifname: 'eth0' }] },
    );
    expect(gc.exitCode, String(gc.stdout)).toBe(0);
    const state = hostStatus() as { state: { endpoints: { container: string }[] } };
    expect(state.state.endpoints.map((e) => e.container)).toEqual(['g0']);
    expect((await direct({ CNI_COMMAND: 'STATUS' }, pluginConf('1.1.0'))).exitCode).toBe(0);
    const badState = join(dir, 'bad-state');
    await execa('mkdir', ['-p', '-m', '0700', badState]);
    await writeFile(join(badState, 'host.json'), '{ torn');
    const down = await direct({ CNI_COMMAND: 'STATUS' }, { ...pluginConf('1.1.0'), stateDir: badState });
    expect(down.exitCode).not.toBe(0);
    expect(JSON.parse(String(down.stdout)).code).toBe(50);
    expect((await libcni('del', file, 'g0', ns[0] ?? '')).stderr).toBe('');
  });

  it('20 concurrent ADDs all succeed with distinct addresses, and their DELs leave the host as before', async () => {
    const links = hostLinks();
    const file = await writeConf('many', conf());
    const boxes = await Promise.all(Array.from({ length: 20 }, (_, i) => container(`p${i}`)));
    const ids = boxes.map(() => randomBytes(32).toString('hex'));
    const results = await Promise.all(boxes.map((ns, i) => libcni('add', file, ids[i] ?? '', ns)));
    for (const r of results) expect(r.stderr).toBe('');
    const addrs = results.map((r) => (JSON.parse(String(r.stdout)) as { ips: { address: string }[] }).ips[0]?.address);
    expect(new Set(addrs).size).toBe(20);
    const dels = await Promise.all(boxes.map((ns, i) => libcni('del', file, ids[i] ?? '', ns)));
    for (const r of dels) expect(r.stderr).toBe('');
    expect(hostLinks()).toBe(links);
  });
});
