/**
 * Real traffic between namespaces for the demo and the tests: a small Node agent started inside a
 * namespace with nsenter, serving or sending one TCP or UDP message.
 */
import { defaultRunner, type Runner } from '../exec/runner.js';
import { CommandError, NftbridgeError } from '../errors.js';

export type Proto = 'tcp' | 'udp';

// Kept as source text so it runs the same from src (tests) and dist (the CLI): `node -e`.
const AGENT = String.raw`
const [mode, proto, a, b, c, d] = process.argv.slice(1);
const net = await import('node:net');
const dgram = await import('node:dgram');
if (mode === 'serve') {
  const port = Number(a), name = b;
  if (proto === 'tcp') {
    const srv = net.createServer((s) => {
      let buf = '';
      s.on('data', (x) => { buf += x; if (buf.includes('\n')) s.end(name + ' ' + s.remoteAddress.replace(/^::ffff:/, '') + ' ' + buf.trim() + '\n'); });
      s.on('error', () => {});
    });
    srv.listen({ port, host: '::', ipv6Only: false }, () => console.log('ready'));
  } else {
    const sock = dgram.createSocket({ type: 'udp6', ipv6Only: false });
    sock.on('message', (m, r) => sock.send(name + ' ' + r.address.replace(/^::ffff:/, '') + ' ' + String(m).trim() + '\n', r.port, r.address));
    sock.bind(port, '::', () => console.log('ready'));
  }
} else {
  const host = a, port = Number(b), payload = c, timeout = Number(d || 3000), localPort = Number(process.argv[7] || 0);
  const fail = (m) => { console.error(m); process.exit(1); };
  setTimeout(() => fail('timeout after ' + timeout + ' ms'), timeout);
  if (proto === 'tcp') {
    const s = net.connect({ host, port, ...(localPort ? { localPort } : {}) }, () => s.write(payload + '\n'));
    let buf = '';
    s.on('data', (x) => { buf += x; });
    s.on('end', () => { process.stdout.write(buf); process.exit(0); });
    s.on('error', (e) => fail(e.code || e.message));
  } else {
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    sock.on('message', (m) => { process.stdout.write(String(m)); process.exit(0); });
    sock.on('error', (e) => fail(e.code || e.message));
    sock.bind(localPort, () => sock.send(payload + '\n', port, host));
  }
}
`;

const agentArgv = (args: string[]) => ['--input-type=module', '-e', AGENT, ...args];

export interface Server {
  stop(): Promise<void>;
}

/** Starts a server in `netns` answering "NAME PEER_ADDRESS PAYLOAD"; resolves once it listens. */
export async function serve(
  netns: string | undefined,
  proto: Proto,
  port: number,
  name: string,
  runner: Runner = defaultRunner,
): Promise<Server> {
  const child = runner.spawn(process.execPath, agentArgv(['serve', proto, String(port), name]), netns ? { netns } : {});
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new NftbridgeError(`server ${name} did not start`)), 10_000);
    child.stdout?.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    void child.then((r) => {
      clearTimeout(timer);
      reject(new NftbridgeError(`server ${name} exited: ${String(r.stderr ?? r.exitCode)}`));
    });
  });
  return {
    stop: async () => {
      child.kill('SIGKILL');
      await child.catch(() => undefined);
    },
  };
}

export interface Reply {
  /** The name of the server that answered. */
  server: string;
  /** The address the server saw the connection come from. */
  peer: string;
  payload: string;
}

/**
 * Sends one message and returns the parsed answer; rejects when nothing answers in time.
 * `localPort` fixes the source port, so that several sends are one UDP flow.
 */
export async function send(
  netns: string | undefined,
  proto: Proto,
  host: string,
  port: number,
  payload: string,
  timeoutMs = 3000,
  localPort = 0,
  runner: Runner = defaultRunner,
): Promise<Reply> {
  const argv = agentArgv(['send', proto, host, String(port), payload, String(timeoutMs), String(localPort)]);
  const r = await runner.run(process.execPath, argv, netns ? { netns } : {}).catch((err: unknown) => {
    const why = err instanceof CommandError ? err.stderr.trim() || `exit ${err.exitCode}` : String(err);
    throw new NftbridgeError(`${proto} ${host}:${port} from ${netns ?? 'current namespace'}: ${why}`);
  });
  const [server = '', peer = '', ...rest] = r.stdout.trim().split(' ');
  return { server, peer, payload: rest.join(' ') };
}
