/**
 * A disposable sandbox: a user + network + mount namespace with a private, empty /run/netns.
 * Whatever a test or the demo creates there disappears with the process, also after a crash, and
 * it works for non-root users too.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nsIdentity } from '../ip/netns.js';
import { NftbridgeError } from '../errors.js';

export const SANDBOX_ENV = 'NFTBRIDGE_SANDBOX';
/** The namespace the sandbox was started from, which the command inside must not be in. */
const OUTER_NS_ENV = 'NFTBRIDGE_SANDBOX_OUTER_NS';

export const inSandbox = () => process.env[SANDBOX_ENV] === '1';

/** Can this machine make a sandbox? (unshare present and user namespaces allowed.) */
export function canSandbox(): boolean {
  const r = spawnSync('unshare', ['-rnm', 'true'], { stdio: 'ignore' });
  return r.status === 0;
}

/** Inside, the command is root of its namespaces: it finds ip and nft in sbin as root would. */
function rootPath(path = ''): string {
  const have = new Set(path.split(':').filter(Boolean));
  return [...have, ...['/usr/local/sbin', '/usr/sbin', '/sbin'].filter((d) => !have.has(d))].join(':');
}

/** Re-runs `argv` (a whole command line) inside a new sandbox and returns its exit status. */
export function runSandboxed(argv: readonly string[]): number {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('runSandboxed: empty command');
  // A temporary directory of the sandbox's own: inside, every user is uid 0, and tools that keep
  // files in $TMPDIR/NAME-UID (tsx does) would meet the real root's.
  const tmp = mkdtempSync(join(tmpdir(), 'nftbridge-sandbox-'));
  try {
    const r = spawnSync('unshare', ['-rnm', '--propagation', 'private', '--', cmd, ...args], {
      stdio: 'inherit',
      env: {
        ...process.env,
        [SANDBOX_ENV]: 'pending',
        [OUTER_NS_ENV]: nsIdentity('/proc/self/ns/net') ?? '',
        TMPDIR: tmp,
        PATH: rootPath(process.env.PATH),
        // Inside, the default state is the sandbox's own: never the machine's /var/lib/nftbridge.
        NFTBRIDGE_STATE_DIR: join(tmp, 'state'),
      },
    });
    if (r.error) throw r.error;
    return r.status ?? (r.signal ? 128 + 1 : 1);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Inside a fresh sandbox: a private tmpfs for /run/netns, and loopback up. */
export function prepareSandbox(): void {
  // unshare said it made a network namespace; make sure before anything runs.
  const outer = process.env[OUTER_NS_ENV];
  if (!outer || nsIdentity('/proc/self/ns/net') === outer)
    throw new NftbridgeError('sandbox: still in the network namespace it was started from; refusing to run');
  const mount = (target: string) => spawnSync('mount', ['-t', 'tmpfs', 'nftbridge-sandbox', target], { stdio: 'inherit' });
  if (!existsSync('/run/netns') || mount('/run/netns').status !== 0) {
    // No /run/netns to mount over (and no right to create one): replace /run as a whole.
    if (mount('/run').status !== 0) throw new Error('sandbox: cannot mount a tmpfs for /run/netns');
    mkdirSync('/run/netns', { recursive: true });
  }
  spawnSync('ip', ['link', 'set', 'lo', 'up'], { stdio: 'inherit' });
  process.env[SANDBOX_ENV] = '1';
}
