/**
 * The resident helper of the CNI plugin. Starting Node costs more than an ADD's work, so the first
 * call (run by Node) leaves a helper behind in the same network and mount namespace; the launcher
 * hands later calls to it over a unix socket (root only), and it answers with Hosts kept open (their
 * ip and nft sessions warm). It leaves after a quiet minute. Calls are served one at a time.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { runPlugin } from './dispatch.js';
import { closeHosts, keepHostsOpen } from './plugin.js';

export const DEFAULT_RUN_DIR = '/run/nftbridge';
export const DEFAULT_IDLE_MS = 60_000;

/**
 * The helper's socket for this process's network namespace (the launcher computes the same name):
 * a helper only ever acts on the namespace it lives in.
 */
export function helperSocket(runDir: string): string {
  const id = /(\d+)/.exec(readlinkSync('/proc/self/ns/net'))?.[1] ?? '0';
  return join(runDir, `cni-${id}.sock`);
}

/** What the helper answers for a call it must not serve: the launcher then runs Node itself. */
export const NOT_SERVED = 254;

const alive = (path: string) =>
  new Promise<boolean>((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

/** Leaves a helper behind unless one answers already (the slow path calls this after its work). */
export async function ensureHelper(runDir: string, main: string, env: NodeJS.ProcessEnv): Promise<void> {
  if (env.NFTBRIDGE_CNI_HELPER === 'off') return;
  const path = helperSocket(runDir);
  if (await alive(path)) return;
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  spawn(process.execPath, [main, '--serve', path], { detached: true, stdio: 'ignore', cwd: '/', env }).unref();
}

/** Reads "KEY=VALUE" lines up to an empty line, then stdin to the end: what the launcher sends. */
function parseRequest(data: Buffer): { env: NodeJS.ProcessEnv; stdin: string } {
  const text = data.toString('utf8');
  const end = text.indexOf('\n\n');
  const head = end < 0 ? text : text.slice(0, end);
  const env: NodeJS.ProcessEnv = {};
  for (const line of head.split('\n')) {
    const eq = line.indexOf('=');
    // Only the CNI variables cross the socket: the helper's own environment stays its own.
    if (eq > 0 && line.startsWith('CNI_')) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return { env, stdin: end < 0 ? '' : text.slice(end + 2) };
}

export async function serve(path: string, idleMs = Number(process.env.NFTBRIDGE_CNI_HELPER_IDLE_MS) || DEFAULT_IDLE_MS): Promise<void> {
  if (await alive(path)) return;
  try {
    unlinkSync(path);
  } catch {
    // No stale socket.
  }
  keepHostsOpen();
  let queue: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  // Connections open now. The helper leaves only once none is: a call cut off midway would leave
  // its work half done, and the launcher, with no answer, runs it again with Node.
  let open = 0;
  let leaving = false;
  let drained: () => void = () => undefined;
  // Half-open: the launcher closes its side after the request and still reads the reply.
  const server = createServer({ allowHalfOpen: true }, (socket: Socket) => {
    open++;
    if (timer) clearTimeout(timer);
    socket.once('close', () => {
      if (--open > 0) return;
      if (leaving) drained();
      else arm();
    });
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('end', () => {
      const { env, stdin } = parseRequest(Buffer.concat(chunks));
      queue = queue.then(async () => {
        // A namespace path the helper cannot see (the caller has other mounts, as after
        // `ip netns exec`): the caller's own Node serves it.
        const needsNetns = env.CNI_COMMAND === 'ADD' || env.CNI_COMMAND === 'CHECK';
        if (needsNetns && env.CNI_NETNS && !existsSync(env.CNI_NETNS)) {
          socket.end(`${NOT_SERVED}\n`);
          return;
        }
        const reply = await runPlugin(env, stdin);
        socket.end(`${reply.code}\n${reply.stdout}`);
      });
    });
  });
  let ino = 0;
  const quit = async () => {
    if (leaving) return;
    leaving = true;
    // Only its own socket and PID file: a newer helper may have taken the name meanwhile.
    const ownsSocket = (() => {
      try {
        return statSync(path).ino === ino;
      } catch {
        return false;
      }
    })();
    server.close();
    try {
      if (ownsSocket) unlinkSync(path);
    } catch {
      // server.close() removed it already.
    }
    try {
      if (readFileSync(`${path}.pid`, 'utf8').trim() === String(process.pid)) unlinkSync(`${path}.pid`);
    } catch {
      // Gone already.
    }
    // No new connection comes after close(); the open ones finish their calls first.
    if (open > 0) await new Promise<void>((resolve) => (drained = resolve));
    await queue.catch(() => undefined);
    await closeHosts();
    process.exit(0);
  };
  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void quit(), idleMs);
  };
  // Before the PID file exists: whoever reads it may signal at once, and the default action of
  // SIGTERM would leave the socket behind.
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void quit());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  ino = statSync(path).ino;
  // Signalled while it was binding: quit() saw no socket of its own yet.
  if (leaving) {
    server.close();
    rmSync(path, { force: true });
    return;
  }
  // Its PID next to the socket, written whole (renamed into place): whoever cleans up stops it by PID.
  const tmp = `${path}.pid.tmp-${process.pid}`;
  writeFileSync(tmp, `${process.pid}\n`, { mode: 0o600 });
  renameSync(tmp, `${path}.pid`);
  arm();
}
