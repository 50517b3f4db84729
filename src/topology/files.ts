/**
 * Careful file access for the state directory: never through a symlink, whole writes, and syncs
 * that make a rename durable.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, fsyncSync, openSync, readSync, renameSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StateFileError } from '../errors.js';

/** The whole file, or undefined when it does not exist; never through a symlink. */
export function readText(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new StateFileError(path, undefined, 'is a symbolic link; state files never are');
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Writes all of `text` (at `position`, or at the descriptor's offset). */
export function writeAll(fd: number, text: string, position?: number): void {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, position === undefined ? null : position + off);
}

/**
 * Replaces `path` whole with `text`: a temporary file created exclusively (0600, never through a
 * symlink), renamed over it, so a reader sees the old file or the new one. `durable`: synced,
 * and the directory too, so a crash keeps the new one. A failure removes the temporary file.
 */
export function replaceFile(path: string, text: string, durable: boolean): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      writeAll(fd, text);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  if (durable) syncDir(dirname(path));
}

/** A rename is durable only once the directory that holds it is synced. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Removes `dir` and its parents up to `made` (the first directory mkdir -p made), each only while
 * empty: a directory another state key or process uses stays.
 */
export function removeMadeDirs(dir: string, made: string): void {
  const top = resolve(made);
  for (let d = resolve(dir); d.startsWith(top); d = dirname(d)) {
    try {
      rmdirSync(d);
    } catch {
      return;
    }
    if (d === top) return;
  }
}
