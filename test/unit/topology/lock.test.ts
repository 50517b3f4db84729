/** The state lock: flock(2), so a dead holder never wedges it and nobody releases a lock not theirs. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock } from '../../../src/topology/lock.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nftbridge-lock-'));
  file = join(dir, 'h.lock');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('state lock', () => {
  it('is held by one at a time, also by two holders in one process', async () => {
    const release = await acquireLock(file);
    const order: string[] = [];
    const second = acquireLock(file).then((r) => {
      order.push('second');
      return r;
    });
    await new Promise((r) => setTimeout(r, 50));
    order.push('first releases');
    await release();
    await (await second)();
    expect(order).toEqual(['first releases', 'second']);
  });

  it('an empty or garbage lock file changes nothing (the lock is the flock, not the text)', async () => {
    writeFileSync(file, '');
    const t0 = Date.now();
    await (await acquireLock(file, 1000))();
    writeFileSync(file, 'not a pid');
    await (await acquireLock(file, 1000))();
    expect(Date.now() - t0).toBeLessThan(500);
  });

  it('releasing twice does not release the next holder', async () => {
    const a = await acquireLock(file);
    await a();
    const b = await acquireLock(file);
    await a(); // a stale release: must not touch b's lock
    await expect(acquireLock(file, 150)).rejects.toThrow(/timed out after 150 ms waiting for the state lock .* \(held by pid \d+\)/);
    await b();
  });

  it('a holder may remove the lock file: its waiter and a newcomer still never hold it together', async () => {
    const a = await acquireLock(file);
    let prepared = 0;
    const b = acquireLock(file, 2000, () => prepared++);
    await new Promise((r) => setTimeout(r, 30)); // b has opened the file and waits on its flock
    rmSync(file);
    await a();
    // A newcomer opens the path now: a new file. b, woken on the removed one, must lock the path's.
    const c = acquireLock(file, 2000);
    const first = await Promise.race([b.then(() => 'b'), c.then(() => 'c')]);
    const other = first === 'b' ? c : b;
    const raced = await Promise.race([other.then(() => 'both'), new Promise((r) => setTimeout(() => r('one'), 150))]);
    expect(raced).toBe('one');
    await (await (first === 'b' ? b : c))();
    await (await other)();
    expect(prepared).toBeGreaterThan(1); // b prepared again before locking the new file
  });

  it('a holder killed with -9 frees it at once', async () => {
    // Another Node process holding the lock as nftbridge does.
    const script = `require('fs-ext').flockSync(require('fs').openSync(${JSON.stringify(file)}, 'a'), 'ex'); console.log('held'); setInterval(() => {}, 1000)`;
    const holder = spawn(process.execPath, ['-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
      cwd: new URL('../../..', import.meta.url).pathname,
    });
    await new Promise((r) => holder.stdout.once('data', r));
    await expect(acquireLock(file, 100)).rejects.toThrow(/timed out/);
    holder.kill('SIGKILL');
    await new Promise((r) => holder.on('exit', r));
    const t0 = Date.now();
    await (await acquireLock(file, 2000))();
    expect(Date.now() - t0).toBeLessThan(200);
  });
});
