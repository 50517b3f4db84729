/**
 * The cross-process state lock: flock(2) on an open descriptor. The kernel drops the lock when its
 * holder dies, however it dies, so a crash can never wedge it; two open descriptions can never hold
 * it at once (two Hosts in one process included); and releasing closes our own descriptor, so
 * nobody can release a lock that is not theirs. Its holder may remove the lock file (a first
 * operation that failed leaves no state directory behind): whoever then gets the flock of the
 * removed file sees that the path no longer names it, and locks the file there now instead.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { flockSync } from 'fs-ext';
import { NftbridgeError } from '../errors.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wider than any PID (pid_max is at most 2^22): each holder overwrites all of the last one's. */
const PID_WIDTH = 10;

/**
 * Takes the lock on `path` (created 0600, never through a symlink) and returns its release.
 * `prepare` runs before each open (making the directory, which a failed first operation removes).
 */
export async function acquireLock(path: string, timeoutMs = 60_000, prepare?: () => void): Promise<() => Promise<void>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    prepare?.();
    let fd: number;
    try {
      // libuv opens every file with O_CLOEXEC: no child (a long-lived nft or ip) inherits the lock.
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      // Its directory was removed between prepare and open: prepare again.
      if (prepare && (err as NodeJS.ErrnoException).code === 'ENOENT' && Date.now() <= deadline) continue;
      throw err;
    }
    try {
      await flockBefore(fd, path, deadline, timeoutMs);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    if (!namesFile(path, fd)) {
      // Locked a file its last holder removed: the lock is now whatever file the path names.
      closeSync(fd);
      continue;
    }
    // Who holds it, for the message below; the lock itself is the flock, not this text. Written in
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
}

/** Non-blocking attempts: a blocking flock would hold one of libuv's four threads while it waits. */
async function flockBefore(fd: number, path: string, deadline: number, timeoutMs: number): Promise<void> {
  for (let delay = 1; ; delay = Math.min(delay * 2, 25)) {
    try {
      flockSync(fd, 'exnb');
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') throw err;
      if (Date.now() > deadline)
        throw new NftbridgeError(`timed out after ${timeoutMs} ms waiting for the state lock ${path} (held by pid ${holder(path)})`);
      await sleep(delay);
    }
  }
}

/** Whether `path` still names the file open on `fd`. */
function namesFile(path: string, fd: number): boolean {
  try {
    const [open, named] = [fstatSync(fd), statSync(path)];
    return open.ino === named.ino && open.dev === named.dev;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

function holder(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim() || '?';
  } catch {
    return '?';
  }
}
