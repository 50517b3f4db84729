/**
 * The cross-process state lock: flock(2) on an open descriptor. The kernel drops the lock when its
 * holder dies, however it dies, so a crash can never wedge it; two open descriptions can never hold
 * it at once (two Hosts in one process included); and releasing closes our own descriptor, so
 * nobody can release a lock that is not theirs. The lock file is never removed: removing it would
 * let a waiter lock an unlinked inode while a newcomer locks a fresh one.
 */
import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs';
import { flockSync } from 'fs-ext';
import { NftbridgeError } from '../errors.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wider than any PID (pid_max is at most 2^22): each holder overwrites all of the last one's. */
const PID_WIDTH = 10;

/** Takes the lock on `path` (created 0600, never through a symlink) and returns its release. */
export async function acquireLock(path: string, timeoutMs = 60_000): Promise<() => Promise<void>> {
  // libuv opens every file with O_CLOEXEC: no child (a long-lived nft or ip) inherits the lock.
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  const deadline = Date.now() + timeoutMs;
  try {
    // Non-blocking attempts: a blocking flock would hold one of libuv's four threads while it waits.
    for (let delay = 1; ; delay = Math.min(delay * 2, 25)) {
      try {
        flockSync(fd, 'exnb');
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') throw err;
        if (Date.now() > deadline)
          throw new NftbridgeError(`timed out after ${timeoutMs} ms waiting for the state lock ${path} (held by pid ${holder(path)})`);
        await sleep(delay);
      }
    }
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  // Who holds it, for the message above; the lock itself is the flock, not this text. Written in
  // place at a fixed width, never truncated: ext4 flushes a file truncated to 0 when it is closed
  // (auto_da_alloc), about a millisecond of every operation.
  writeSync(fd, `${String(process.pid).padStart(PID_WIDTH)}\n`, 0);
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    closeSync(fd); // closing the last descriptor of this open file description drops the flock
  };
}

function holder(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim() || '?';
  } catch {
    return '?';
  }
}
