/**
 * Real engines attach busybox containers through the nftbridge CNI plugin: Podman 4.3
 * (network_backend "cni") and containerd 1.6 (`ctr run --cni`), each confined to the lab's host
 * network namespace and one private mount namespace, with their state in temporary directories.
 * Shown with real traffic: the address from the result, container to container, egress to an
 * outside machine that has no route back (so masquerade is proven), a published port from outside
 * (Podman), and the host exactly as before once the containers are gone.
 *
 * Engines need real root (cgroups, mounts): in the rootless pass of CI they are skipped; the root
 * pass runs them.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  busyboxRootfs,
  containerdSetup,
  EngineNamespace,
  exitOf,
  ociArchive,
  podmanSetup,
  removeTree,
  shortTmp,
} from '../../src/lab/engines.js';
import { Lab, UPLINK } from '../../src/lab/lab.js';
import { serve, type Server } from '../../src/lab/traffic.js';
import { CLI, cli } from '../helpers/cli.js';
import { stopHelpers } from '../helpers/cni.js';

const realRoot = (() => {
  try {
    // Root of the machine's own user namespace (uid 0, whose map is the whole range).
    return process.getuid?.() === 0 && /^\s*0\s+0\s+4294967295\s*$/.test(readFileSync('/proc/self/uid_map', 'utf8'));
  } catch {
    return false;
  }
})();
const haveEngines = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v podman && command -v containerd && command -v ctr && test -x /bin/busybox'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (realRoot && !haveEngines && process.env.CI === 'true')
  throw new Error('podman, containerd or busybox-static missing: .ci/setup installs them');

const BODY = 'hello-from-nftbridge';
/** busybox's web server in the foreground, serving BODY. */
const HTTPD = ['httpd', '-f', '-p', '80', '-h', '/www'];
/** An HTTP GET with Node from a namespace: the body, or the error. */
const httpGet = async (netns: string, host: string, port: number) => {
  const script = `require('http').get({host:'${host}',port:${port},timeout:3000},r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>{process.stdout.write(b);process.exit(0)})}).on('error',e=>{console.error(e.code);process.exit(1)})`;
  const r = await execa('nsenter', [`--net=${netns}`, process.execPath, '-e', script], { reject: false, timeout: 10_000 });
  return String(r.stdout).trim();
};

// Not helpers/kernel.ts: its probe fails (and under CI throws) for a user without root, and this
// file runs outside the sandbox; a user without root skips it, the root pass of CI runs it.
const enabled = realRoot && haveEngines;
const describeEngines = enabled ? describe : describe.skip;

describeEngines('CNI with real engines', () => {
  let lab: Lab;
  let dir: string;
  let pluginDir: string;
  let netDir: string;
  let stateDir: string;
  let rootfs: string;
  const servers: Server[] = [];
  let ownBefore: string;
  const own = () =>
    execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }) + execFileSync('nft', ['list', 'ruleset'], { encoding: 'utf8' });
  const hostView = () =>
    execFileSync('ip', ['-n', lab.host, '-o', 'link'], { encoding: 'utf8' }).replace(/^\d+: /gm, '') +
    execFileSync('ip', ['netns', 'exec', lab.host, 'nft', 'list', 'ruleset'], { encoding: 'utf8' });
  /** nftbridge's state as the CLI in the engines' namespaces sees it (the netns paths live there). */
  const state = async (ns: EngineNamespace) =>
    (
      JSON.parse(await ns.run(process.execPath, [CLI, '--state-dir', stateDir, '--json', 'status'])) as {
        state: { endpoints: { container: string; ifname: string; addresses: string[] }[] };
        drift: unknown[];
      }
    ).state;

  beforeAll(async () => {
    // Hooks of a skipped suite may still run: nothing to set up then.
    if (!enabled) return;
    ownBefore = own();
    lab = await Lab.create();
    dir = await shortTmp('nbe-');
    pluginDir = join(dir, 'bin');
    netDir = join(dir, 'net.d');
    stateDir = join(dir, 'st');
    expect(cli(['cni', 'install', '--dir', pluginDir, '--run-dir', join(dir, 'run')]).status).toBe(0);
    execFileSync('mkdir', ['-p', netDir, join(dir, 'empty')]);
    rootfs = await busyboxRootfs(dir, BODY);
    servers.push(await serve(Lab.path(lab.outside), 'tcp', 80, 'outside'));
  }, 120_000);

  afterAll(async () => {
    if (!enabled) return;
    for (const s of servers) await s.stop();
    await stopHelpers(dir ? join(dir, 'run') : undefined);
    await lab?.destroy();
    if (dir) await removeTree(dir);
    // The machine's own namespace was never touched.
    if (ownBefore !== undefined) expect(own()).toBe(ownBefore);
  });

  it('Podman: run -p 8080:80, address from the result, c2c, egress masqueraded, published port from outside, network connect (eth1) and reload; rm leaves the host as before', async () => {
    await writeFile(
      join(netDir, 'nbnet.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'nbnet',
        plugins: [
          {
            type: 'nftbridge',
            bridge: 'nbpod0',
            subnet: '10.88.7.0/24',
            stateDir,
            capabilities: { portMappings: true, ips: true, mac: true },
          },
        ],
      }),
    );
    const before = hostView();
    const env = { ...(await podmanSetup(join(dir, 'podman'), pluginDir, netDir)), NFTBRIDGE_CNI_HELPER_IDLE_MS: '3000' };
    const ns = await EngineNamespace.start(lab, { tmpfs: ['/var/lib', '/run'] });
    try {
      const podman = (...args: string[]) => ns.run('podman', args, env);
      await execa('tar', ['-C', rootfs, '-cf', join(dir, 'rootfs.tar'), '.']);
      await podman('import', join(dir, 'rootfs.tar'), 'localhost/nbbusybox');
      await podman('run', '-d', '--name', 'web', '--network', 'nbnet', '-p', '8080:80', 'localhost/nbbusybox', ...HTTPD);
      await podman('run', '-d', '--name', 'cli', '--network', 'nbnet', 'localhost/nbbusybox', 'sleep', '600');
      const webIp = (await podman('inspect', 'web', '--format', '{{.NetworkSettings.Networks.nbnet.IPAddress}}')).trim();
      const st = await state(ns);
      const webId = (await podman('inspect', 'web', '--format', '{{.Id}}')).trim();
      expect(st.endpoints.find((e) => e.container === webId)?.addresses).toEqual([webIp]);
      expect(st.endpoints.map((e) => e.ifname)).toEqual(['eth0', 'eth0']);
      const c2c = await podman('exec', 'cli', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc ${webIp} 80`);
      expect(c2c).toContain(BODY);
      // The outside machine has no route to 10.88.7.0/24: only masquerade gets the answer back.
      const egress = await podman('exec', 'cli', 'sh', '-c', `echo hi | nc ${UPLINK.outside} 80`);
      expect(egress.trim()).toBe(`outside ${UPLINK.host} hi`);
      expect(await httpGet(Lab.path(lab.outside), UPLINK.host, 8080)).toBe(BODY);
      // `podman network connect` attaches a second network as eth1; `network reload` is DEL then ADD.
      await writeFile(
        join(netDir, 'nbnet2.conflist'),
        JSON.stringify({
          cniVersion: '1.0.0',
          name: 'nbnet2',
          plugins: [{ type: 'nftbridge', bridge: 'nbpod1', subnet: '10.88.8.0/24', stateDir }],
        }),
      );
      await podman('network', 'connect', 'nbnet2', 'cli');
      const cliId = (await podman('inspect', 'cli', '--format', '{{.Id}}')).trim();
      expect((await state(ns)).endpoints.filter((e) => e.container === cliId).map((e) => e.ifname)).toEqual(['eth0', 'eth1']);
      expect(await podman('exec', 'cli', 'ip', '-o', '-4', 'addr', 'show', 'eth1')).toMatch(/inet 10\.88\.8\.\d+\/24/);
      await podman('network', 'reload', 'cli');
      expect(await podman('exec', 'cli', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc ${webIp} 80`)).toContain(BODY);
      expect((await state(ns)).endpoints.filter((e) => e.container === cliId)).toHaveLength(2);
      await podman('rm', '-f', '-t', '0', 'web', 'cli');
      expect((await state(ns)).endpoints).toEqual([]);
      expect(hostView()).toBe(before);
    } finally {
      await ns.run('podman', ['rm', '-af', '-t', '0'], env).catch(() => undefined);
      await ns.stop();
    }
  });

  it('containerd: ctr run --cni (CNI_CONTAINERID ns-id, CNI_NETNS /proc/PID/ns/net, DEL with CNI_NETNS empty): c2c, egress; the host as before', async () => {
    const cniDir = join(dir, 'ctr-net.d');
    execFileSync('mkdir', ['-p', cniDir]);
    await writeFile(
      join(cniDir, '10-nbctr.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'nbctr',
        plugins: [{ type: 'nftbridge', bridge: 'nbctr0', subnet: '10.88.9.0/24', stateDir }],
      }),
    );
    const before = hostView();
    const { config, socket } = await containerdSetup(join(dir, 'containerd'));
    // ctr looks only in /etc/cni/net.d and /opt/cni/bin, and Debian adds /usr/lib/cni: hidden.
    const ns = await EngineNamespace.start(lab, {
      tmpfs: ['/var/lib', '/opt', '/run'],
      binds: [
        [pluginDir, '/opt/cni/bin'],
        [cniDir, '/etc/cni/net.d'],
        [join(dir, 'empty'), '/usr/lib/cni'],
      ],
    });
    try {
      const daemon = ns.spawn('containerd', ['--config', config]);
      let log = '';
      daemon.stderr?.on('data', (d: Buffer) => (log += String(d)));
      const ctr = (...args: string[]) =>
        ns.run('ctr', ['-a', socket, '-n', 'nbtest', ...args], { NFTBRIDGE_CNI_HELPER_IDLE_MS: '3000', PATH: process.env.PATH ?? '' });
      for (let i = 0; ; i++) {
        if (
          await ctr('version').then(
            () => true,
            () => false,
          )
        )
          break;
        if (i > 100) throw new Error(`containerd did not start: ${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const image = await ociArchive(rootfs, join(dir, 'oci-build'), 'docker.io/library/nbbusybox:latest');
      await ctr('image', 'import', '--snapshotter', 'native', image);
      const img = 'docker.io/library/nbbusybox:latest';
      // The web server runs in the foreground of its own `ctr run`, which DELs when it ends.
      const web = ns.spawn('ctr', ['-a', socket, '-n', 'nbtest', 'run', '--rm', '--cni', '--snapshotter', 'native', img, 'web', ...HTTPD]);
      let webIp: string | undefined;
      for (let i = 0; i < 100 && !webIp; i++) {
        webIp = (await state(ns)).endpoints.find((e) => e.container === 'nbtest-web')?.addresses[0];
        if (!webIp) await new Promise((r) => setTimeout(r, 100));
      }
      expect(webIp).toMatch(/^10\.88\.9\./);
      const out = await ctr(
        'run',
        '--rm',
        '--cni',
        '--snapshotter',
        'native',
        img,
        'cli',
        'sh',
        '-c',
        `ip -o -4 addr show eth0; printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc ${webIp} 80; echo hi | nc ${UPLINK.outside} 80`,
      );
      expect(out).toMatch(/inet 10\.88\.9\.\d+\/24/);
      expect(out).toContain(BODY);
      expect(out).toContain(`outside ${UPLINK.host} hi`);
      await ctr('task', 'kill', '-s', 'KILL', 'web');
      await exitOf(web, 20_000);
      expect((await state(ns)).endpoints).toEqual([]);
      expect(hostView()).toBe(before);
    } finally {
      await ns.stop();
    }
  });
});
