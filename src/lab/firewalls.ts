/**
 * Real host firewalls inside a lab's host namespace, for the tests and the benchmark: firewalld
 * (with a dbus-daemon of its own), ufw and a hand-written nftables.conf with drop policies. Each
 * runs in the lab's network namespace and a private mount namespace, with its configuration in a
 * temporary directory; nothing reaches the machine's own firewall. Stopped by PID, never by name.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { NftbridgeError } from '../errors.js';
import { Lab } from './lab.js';

export type HostFirewallKind = 'firewalld' | 'ufw' | 'nftables';

export interface LabFirewall {
  kind: HostFirewallKind;
  /** Environment for nftbridge and the firewall's tools (DBUS_SYSTEM_BUS_ADDRESS for firewalld). */
  env: Record<string, string>;
  /** The firewall's own reload: `firewall-cmd --reload`, `ufw reload`, `nft flush ruleset; nft -f`. */
  reload(): Promise<void>;
  /** firewalld only: stopped and started again (a restart with no nftbridge running). */
  restart?(): Promise<void>;
  /** Every table but nftbridge's (stateless listing), and the firewall's configuration files. */
  snapshot(): Promise<string>;
  stop(): Promise<void>;
}

const run = async (cmd: string, args: string[], env: Record<string, string> = {}) => {
  const r = await execa(cmd, args, { env, reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0)
    throw new NftbridgeError(`${cmd} ${args.join(' ')}: ${String(r.stderr || r.stdout).trim() || `exit ${r.exitCode}`}`);
  return String(r.stdout);
};

/** `nft -s list ruleset` of the namespace without nftbridge's tables: what `down` must leave as it found. */
export async function foreignRuleset(netns: string): Promise<string> {
  const text = await run('ip', ['netns', 'exec', netns, 'nft', '-s', 'list', 'ruleset']);
  const out: string[] = [];
  let skip = false;
  for (const line of text.split('\n')) {
    if (/^table (inet|bridge) nftbridge \{/.test(line)) skip = true;
    if (!skip) out.push(line);
    if (skip && line === '}') skip = false;
  }
  return out.join('\n');
}

/** Every file under `dir` with its contents, sorted: a configuration directory compared whole. */
async function treeText(dir: string, keep: (file: string) => boolean = () => true): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .filter(keep);
  files.sort();
  const parts = await Promise.all(files.map(async (f) => `== ${f.slice(dir.length)}\n${await readFile(f, 'utf8')}`));
  return parts.join('\n');
}

function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () =>
      void check().then(
        (ok) => {
          if (ok) resolve();
          else if (Date.now() - started > timeoutMs) reject(new NftbridgeError(`${what}: not ready after ${timeoutMs} ms`));
          else setTimeout(tick, 100);
        },
        () => (Date.now() - started > timeoutMs ? reject(new NftbridgeError(`${what}: not ready`)) : setTimeout(tick, 100)),
      );
    tick();
  });
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

/** Debian's firewalld.conf, as far as it matters, with the default zone "drop". */
const FIREWALLD_CONF = `DefaultZone=drop
CleanupOnExit=yes
CleanupModulesOnExit=no
IPv6_rpfilter=yes
IndividualCalls=no
LogDenied=off
FirewallBackend=nftables
FlushAllOnReload=yes
RFC3964_IPv4=yes
AllowZoneDrifting=no
`;

/**
 * firewalld 1.x with the nftables backend. Its dbus-daemon and firewalld see a tmpfs on /run and
 * a copy of /etc/firewalld; nftbridge reaches that bus through /proc/PID/root.
 */
export async function startFirewalld(lab: Lab): Promise<LabFirewall> {
  const dir = await mkdtemp(join(tmpdir(), 'nftbridge-firewalld-'));
  // firewalld's own defaults come from /usr/lib/firewalld; /etc/firewalld (unreadable to a user
  // without root) gets only a firewalld.conf: a hardened host whose default zone drops. (With the
  // stock "public" zone, its intra-zone forwarding lets a bridge that fell into it reach an uplink
  // of the same zone.)
  for (const sub of ['zones', 'policies', 'services', 'ipsets', 'icmptypes', 'helpers'])
    await mkdir(join(dir, 'etc', sub), { recursive: true });
  await writeFile(join(dir, 'etc', 'firewalld.conf'), FIREWALLD_CONF);
  const conf = (await readFile('/usr/share/dbus-1/system.conf', 'utf8'))
    .replace(
      /<user>[^<]*<\/user>|<fork\/>|<pidfile>[^<]*<\/pidfile>|<syslog\/>|<standard_system_servicedirs\/>|<servicehelper>[^<]*<\/servicehelper>/g,
      '',
    )
    .replace('<includedir>system.d</includedir>', '<includedir>/usr/share/dbus-1/system.d</includedir>');
  await writeFile(join(dir, 'system.conf'), conf);
  // The bus first; firewalld is started separately, so that a restart keeps the bus and the mounts.
  const script = [
    'set -e',
    'mount -t tmpfs tmpfs /run',
    'mkdir -p /run/dbus',
    `mount --bind "$1/etc" /etc/firewalld`,
    `exec dbus-daemon --config-file="$1/system.conf" --nofork --nopidfile`,
  ].join('\n');
  const bus = spawn('ip', ['netns', 'exec', lab.host, 'unshare', '-m', '--propagation', 'private', 'bash', '-c', script, 'bus', dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let busErr = '';
  bus.stderr?.on('data', (d: Buffer) => (busErr += String(d)));
  // dbus-daemon is the exec'd process: the PID of `ip netns exec … bash` after its execs.
  const busPid = bus.pid;
  if (busPid === undefined) throw new NftbridgeError('dbus-daemon did not start');
  const socket = `/proc/${busPid}/root/run/dbus/system_bus_socket`;
  const env = { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${socket}` };
  let firewalld: ChildProcess | undefined;
  let logs = '';
  const state = () => run('firewall-cmd', ['--state'], env).then((s) => s.trim() === 'running');
  const start = async () => {
    await waitFor(`dbus-daemon ${busErr}`, async () =>
      (await readdir(`/proc/${busPid}/root/run/dbus`).catch((): string[] => [])).includes('system_bus_socket'),
    );
    const child = spawn('nsenter', ['-t', String(busPid), '-m', '-n', 'firewalld', '--nofork', '--nopid'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (logs += String(d)));
    child.stderr?.on('data', (d: Buffer) => (logs += String(d)));
    firewalld = child;
    await waitFor(`firewalld ${logs}`, state);
  };
  const stopFirewalld = async () => {
    const child = firewalld;
    if (!child?.pid) return;
    child.kill('SIGTERM');
    await exited(child);
    firewalld = undefined;
  };
  const fw: LabFirewall = {
    kind: 'firewalld',
    env,
    reload: async () => void (await run('firewall-cmd', ['--reload'], env)),
    restart: async () => {
      await stopFirewalld();
      await start();
    },
    // firewalld keeps a removed zone's or policy's file as NAME.xml.old: its backup, not configuration.
    snapshot: async () => `${await foreignRuleset(lab.host)}\n${await treeText(join(dir, 'etc'), (f) => !f.endsWith('.xml.old'))}`,
    stop: async () => {
      await stopFirewalld();
      bus.kill('SIGTERM');
      await exited(bus);
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await start();
  } catch (err) {
    await fw.stop();
    throw err;
  }
  return fw;
}

/** ufw (iptables-nft): its configuration copied to a temporary directory and bind-mounted for each command. */
export async function enableUfw(lab: Lab): Promise<LabFirewall> {
  const dir = await mkdtemp(join(tmpdir(), 'nftbridge-ufw-'));
  // The package's pristine rules (/etc/ufw is unreadable to a user without root).
  await mkdir(join(dir, 'ufw', 'applications.d'), { recursive: true });
  for (const f of ['after.rules', 'after6.rules', 'before.rules', 'before6.rules', 'user.rules', 'user6.rules'])
    await cp(join('/usr/share/ufw/iptables', f), join(dir, 'ufw', f));
  for (const f of ['after.init', 'before.init', 'ufw.conf']) await cp(join('/usr/share/ufw', f), join(dir, 'ufw', f));
  await cp('/etc/ufw/sysctl.conf', join(dir, 'ufw', 'sysctl.conf'));
  await cp('/etc/default/ufw', join(dir, 'default-ufw'));
  const ufw = (...args: string[]) =>
    run('ip', [
      'netns',
      'exec',
      lab.host,
      'unshare',
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      'mount -t tmpfs tmpfs /run && mount --bind "$1/ufw" /etc/ufw && mount --bind "$1/default-ufw" /etc/default/ufw && shift && exec ufw "$@"',
      'ufw',
      dir,
      ...args,
    ]);
  await ufw('--force', 'enable');
  return {
    kind: 'ufw',
    env: {},
    reload: async () => void (await ufw('reload')),
    snapshot: async () => `${await foreignRuleset(lab.host)}\n${await treeText(dir)}`,
    stop: async () => {
      await ufw('--force', 'disable').catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A hand-written /etc/nftables.conf of a hardened host: input and forward drop, as distributions suggest. */
export const HARDENED_NFTABLES = `flush ruleset
table inet filter {
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    ct state invalid drop
    iifname "lo" accept
    meta l4proto { icmp, ipv6-icmp } accept
    tcp dport 22 accept
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
  }
  chain output {
    type filter hook output priority filter; policy accept;
  }
}
`;

/** The hardened ruleset, loaded and reloaded as `systemctl reload nftables` does (`nft -f`, which flushes the whole ruleset). */
export async function hardenedNftables(lab: Lab): Promise<LabFirewall> {
  const dir = await mkdtemp(join(tmpdir(), 'nftbridge-nftconf-'));
  const file = join(dir, 'nftables.conf');
  await writeFile(file, HARDENED_NFTABLES);
  const load = async () => void (await run('ip', ['netns', 'exec', lab.host, 'nft', '-f', file]));
  await load();
  return {
    kind: 'nftables',
    env: {},
    reload: load,
    snapshot: async () => `${await foreignRuleset(lab.host)}\n${await treeText(dir)}`,
    stop: async () => {
      await run('ip', ['netns', 'exec', lab.host, 'nft', 'delete', 'table', 'inet', 'filter']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const startHostFirewall = (kind: HostFirewallKind, lab: Lab): Promise<LabFirewall> =>
  kind === 'firewalld' ? startFirewalld(lab) : kind === 'ufw' ? enableUfw(lab) : hardenedNftables(lab);

export { Lab };
