/**
 * Real container engines in a lab, for the CNI tests: Podman 4 (CNI backend) and containerd 1.6
 * (`ctr run --cni`), confined to the lab's host network namespace and one private mount namespace
 * per scenario, their state in a temporary directory. Images are built offline from Debian's
 * busybox-static. Every process is stopped by PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { NftbridgeError } from '../errors.js';
import type { Lab } from './lab.js';

const APPLETS = ['sh', 'nc', 'httpd', 'ip', 'cat', 'echo', 'sleep', 'printf', 'ls', 'ps'];

/** A busybox root filesystem with a web root holding `index.html` = `body`. */
export async function busyboxRootfs(dir: string, body: string): Promise<string> {
  const root = join(dir, 'rootfs');
  for (const d of ['bin', 'www', 'tmp', 'etc', 'proc', 'sys', 'dev', 'run']) await mkdir(join(root, d), { recursive: true });
  await copyFile('/bin/busybox', join(root, 'bin', 'busybox'));
  await chmod(join(root, 'bin', 'busybox'), 0o755);
  for (const a of APPLETS) await symlink('busybox', join(root, 'bin', a));
  await writeFile(join(root, 'www', 'index.html'), `${body}\n`);
  await writeFile(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/:/bin/sh\n');
  return root;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** An OCI image layout archive of `rootfs` (one uncompressed layer), named `name` for `ctr image import`. */
export async function ociArchive(rootfs: string, dir: string, name: string): Promise<string> {
  const layout = join(dir, 'oci');
  await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
  const layerFile = join(dir, 'layer.tar');
  await execa('tar', ['-C', rootfs, '-cf', layerFile, '.']);
  const layer = await readFile(layerFile);
  const blob = async (data: Buffer) => {
    const h = sha256(data);
    await writeFile(join(layout, 'blobs', 'sha256', h), data);
    return { digest: `sha256:${h}`, size: data.length };
  };
  const layerRef = await blob(layer);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: [layerRef.digest] },
    }),
  );
  const configRef = await blob(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configRef },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layerRef }],
    }),
  );
  const manifestRef = await blob(manifest);
  await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifestRef,
          annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.split(':').at(-1) ?? 'latest' },
        },
      ],
    }),
  );
  const out = join(dir, 'image.tar');
  await execa('tar', ['-C', layout, '-cf', out, '.']);
  return out;
}

/** The cgroup v1 hierarchies of the machine, which `ip netns exec` hides by remounting /sys. */
async function cgroupMounts(): Promise<{ dir: string; opts: string }[]> {
  const text = await readFile('/proc/self/mounts', 'utf8');
  return text
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[0] === 'cgroup' && f[2] === 'cgroup')
    .map((f) => ({
      dir: f[1] ?? '',
      opts: (f[3] ?? '')
        .split(',')
        .filter((o) => !['rw', 'ro', 'relatime', 'nosuid', 'nodev', 'noexec'].includes(o))
        .join(','),
    }));
}

export interface EngineNamespaceOptions {
  /** Bind mounts made in the private mount namespace: [source, target]. */
  binds?: [string, string][];
  /**
   * Directories that get an empty tmpfs (hidden): /run for the runtimes' state (crun, containerd's
   * fifos, Podman's namespaces), /var/lib for CNI's cache, …
   */
  tmpfs?: string[];
}

/**
 * One private mount namespace in the lab's host network namespace, held by a `sleep` process;
 * every engine command of a scenario runs in it through nsenter.
 */
export class EngineNamespace {
  private readonly children: ChildProcess[] = [];
  private constructor(
    private readonly holder: ChildProcess,
    readonly pid: number,
  ) {}

  static async start(lab: Lab, options: EngineNamespaceOptions = {}): Promise<EngineNamespace> {
    const lines = ['set -e', 'mount -t tmpfs tmpfs /sys/fs/cgroup'];
    for (const { dir, opts } of await cgroupMounts()) lines.push(`mkdir -p '${dir}'`, `mount -t cgroup -o '${opts}' cgroup '${dir}'`);
    lines.push('mount -t tmpfs tmpfs /dev/shm');
    for (const t of options.tmpfs ?? []) lines.push(`mount -t tmpfs tmpfs '${t}'`);
    for (const [src, dst] of options.binds ?? []) lines.push(`mkdir -p '${dst}'`, `mount --bind '${src}' '${dst}'`);
    lines.push('echo ready', 'exec sleep infinity');
    const holder = spawn('ip', ['netns', 'exec', lab.host, 'unshare', '-m', '--propagation', 'private', 'bash', '-c', lines.join('\n')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    holder.stderr?.on('data', (d: Buffer) => (err += String(d)));
    await new Promise<void>((resolve, reject) => {
      holder.stdout?.once('data', () => resolve());
      holder.once('exit', (code) => reject(new NftbridgeError(`engine namespace: setup failed (${code}): ${err.trim()}`)));
    });
    if (holder.pid === undefined) throw new NftbridgeError('engine namespace: no holder');
    return new EngineNamespace(holder, holder.pid);
  }

  /** Runs a command in the namespace; rejects with its output when it fails. */
  async run(cmd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<string> {
    const r = await execa('nsenter', ['-t', String(this.pid), '-m', '-n', '--', cmd, ...args], {
      env,
      reject: false,
      timeout: timeoutMs,
      stdin: 'ignore',
    });
    if (r.exitCode !== 0) throw new NftbridgeError(`${cmd} ${args.join(' ')}: exit ${r.exitCode}: ${String(r.stderr || r.stdout).trim()}`);
    return String(r.stdout);
  }

  /** A long-running command (containerd, a foreground `ctr run`); stopped with the namespace. */
  spawn(cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
    const child = spawn('nsenter', ['-t', String(this.pid), '-m', '-n', '--', cmd, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.push(child);
    return child;
  }

  async stop(): Promise<void> {
    for (const c of this.children.reverse()) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGTERM');
        await exitOf(c, 5000).catch(() => c.kill('SIGKILL'));
      }
    }
    this.holder.kill('SIGKILL');
    await exitOf(this.holder, 5000).catch(() => undefined);
  }
}

export function exitOf(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => reject(new NftbridgeError('process did not exit in time')), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** A short temporary directory: Podman's runroot path must stay under 50 characters. */
export const shortTmp = (prefix: string) => mkdtemp(join('/tmp', prefix));

/** Podman with the CNI backend, its configuration, storage and runroot in `dir`. */
export async function podmanSetup(dir: string, pluginDir: string, netDir: string) {
  await mkdir(join(dir, 'tmp'), { recursive: true });
  const conf = join(dir, 'containers.conf');
  // Without CAP_SYS_RESOURCE crun cannot raise limits: containers get lower ones than the caller's.
  await writeFile(
    conf,
    [
      '[containers]',
      'default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]',
      '[network]',
      'network_backend = "cni"',
      `cni_plugin_dirs = ["${pluginDir}"]`,
      `network_config_dir = "${netDir}"`,
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${join(dir, 'events.log')}"`,
      `tmp_dir = "${join(dir, 'tmp')}"`,
      '',
    ].join('\n'),
  );
  const storage = join(dir, 'storage.conf');
  await writeFile(
    storage,
    ['[storage]', 'driver = "vfs"', `graphroot = "${join(dir, 'root')}"`, `runroot = "${join(dir, 'run')}"`, ''].join('\n'),
  );
  return { CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: storage, PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
}

/** containerd's configuration: its root, state and socket in `dir`, the CRI plugin off (ctr needs none of it). */
export async function containerdSetup(dir: string): Promise<{ config: string; socket: string }> {
  await mkdir(dir, { recursive: true });
  const config = join(dir, 'config.toml');
  const socket = join(dir, 'containerd.sock');
  await writeFile(
    config,
    [
      'version = 2',
      `root = "${join(dir, 'root')}"`,
      `state = "${join(dir, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '',
    ].join('\n'),
  );
  return { config, socket };
}

export async function removeTree(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}
