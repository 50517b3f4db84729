/**
 * The CNI plugin's resident helper leaves after a quiet time, but never with a call open: a call
 * cut off midway leaves its work half done, and the launcher, with no answer, runs it again with
 * Node. Shown on the built helper over its socket, with VERSION (which needs no namespace).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const MAIN = new URL('../../dist/cni/main.js', import.meta.url).pathname;
const IDLE_MS = 300;
const REQUEST = `CNI_COMMAND=VERSION\n\n${JSON.stringify({ cniVersion: '1.0.0' })}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// A child killed by a signal has exitCode null and signalCode set; either means it is gone.
const gone = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;
const exited = (child: ChildProcess) =>
  gone(child) ? Promise.resolve(child.exitCode) : new Promise<number | null>((r) => child.once('exit', (code) => r(code)));

/** Opens a connection now; `ask` sends the request later and reads the whole reply. */
async function connect(path: string): Promise<{ socket: Socket; ask: () => Promise<string> }> {
  const socket = createConnection(path);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const reply = new Promise<string>((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
  return {
    socket,
    ask: () => {
      socket.end(REQUEST);
      return reply;
    },
  };
}

describe('the CNI helper leaves only with no call open', () => {
  let dir: string | undefined;
  let helper: ChildProcess | undefined;
  afterEach(async () => {
    if (helper && !gone(helper)) {
      helper.kill('SIGKILL');
      await exited(helper);
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const start = async () => {
    dir = await mkdtemp(join(tmpdir(), 'nbh-'));
    const path = join(dir, 'cni-test.sock');
    helper = spawn(process.execPath, [MAIN, '--serve', path], {
      stdio: 'ignore',
      env: { ...process.env, NFTBRIDGE_CNI_HELPER_IDLE_MS: String(IDLE_MS) },
    });
    for (let i = 0; i < 100 && !existsSync(`${path}.pid`); i++) await sleep(50);
    expect(existsSync(`${path}.pid`)).toBe(true);
    return path;
  };

  it('a connection opened before the quiet time ran out is answered after it, then the helper leaves', async () => {
    const path = await start();
    const { ask } = await connect(path);
    await sleep(IDLE_MS * 3);
    expect(gone(helper as ChildProcess)).toBe(false);
    expect(await ask()).toMatch(/^0\n\{.*"supportedVersions"/);
    expect(await exited(helper as ChildProcess)).toBe(0);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}.pid`)).toBe(false);
  });

  it('SIGTERM with a call open: the call is answered first, nothing new is taken', async () => {
    const path = await start();
    const { ask } = await connect(path);
    helper?.kill('SIGTERM');
    // The socket is gone for new callers, who then run Node themselves (a loaded machine may take
    // a while to run the handler).
    for (let i = 0; i < 100 && existsSync(path); i++) await sleep(20);
    expect(gone(helper as ChildProcess)).toBe(false);
    expect(existsSync(path)).toBe(false);
    expect(await ask()).toMatch(/^0\n\{.*"supportedVersions"/);
    expect(await exited(helper as ChildProcess)).toBe(0);
  });

  it('SIGTERM the moment its PID file appears: it leaves by its own handler and takes its socket', async () => {
    // Before, the PID file came before the handler: a cleaner quick enough killed it with the
    // default action and the socket stayed behind (39 of 40 times with this poll).
    for (let i = 0; i < 5; i++) {
      dir = await mkdtemp(join(tmpdir(), 'nbh-'));
      const path = join(dir, 'cni-test.sock');
      const child = spawn(process.execPath, [MAIN, '--serve', path], { stdio: 'ignore' });
      helper = child;
      const deadline = Date.now() + 10_000;
      while (!existsSync(`${path}.pid`) && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      expect(existsSync(`${path}.pid`)).toBe(true);
      child.kill('SIGTERM');
      expect(await exited(child)).toBe(0);
      expect(child.signalCode).toBeNull();
      expect(existsSync(path)).toBe(false);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
