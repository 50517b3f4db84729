import type { z } from 'zod';

/** Base of every error nftbridge throws, so callers can catch the library's errors as one kind. */
export class NftbridgeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input: names the offending field so a CLI can print one precise line. */
export class ValidationError extends NftbridgeError {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** Something named does not exist (network, container, endpoint, port). */
export class NotFoundError extends ValidationError {}

/** Something would collide with what already exists (subnet overlap, taken address or port). */
export class ConflictError extends ValidationError {}

/** A child process failed; carries everything needed to reproduce it. */
export class CommandError extends NftbridgeError {
  constructor(
    readonly command: string,
    readonly argv: readonly string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(`${[command, ...argv].join(' ')} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim() || 'no message'}`, options);
  }
}

/** A line of an `ip -batch` failed; `line` is its 0-based index, so callers know which steps took effect. */
export class BatchError extends CommandError {
  constructor(
    readonly line: number,
    readonly lines: readonly (readonly string[])[],
    cause: CommandError,
  ) {
    super('ip', ['-batch', '-', `(line ${line + 1}: ${lines[line]?.join(' ') ?? '?'})`], cause.exitCode, cause.stderr, { cause });
  }
}

/** A monitor process (ip monitor, nft monitor) ended on its own: its source errors so that it is restarted. */
export class MonitorExitedError extends NftbridgeError {
  constructor(
    readonly command: string,
    readonly exitCode: number | undefined,
    readonly stderr: string,
  ) {
    super(`${command} exited (${exitCode ?? 'signal'}): ${stderr.trim() || 'no message'}`);
  }
}

/** An operation failed and undoing its steps failed too: `cause` is the failure, `rollbackErrors` what the undo met. */
export class RollbackError extends NftbridgeError {
  constructor(
    cause: unknown,
    readonly rollbackErrors: readonly unknown[],
  ) {
    super(`${messageOf(cause)}; rolling back also failed: ${rollbackErrors.map(messageOf).join('; ')}`, { cause });
  }
}

/** A best-effort teardown (`down`) ran every step; these are the ones that failed. */
export class TeardownError extends NftbridgeError {
  constructor(readonly failures: readonly { step: string; error: unknown }[]) {
    super(`could not remove everything: ${failures.map((f) => `${f.step}: ${messageOf(f.error)}`).join('; ')}`);
  }
}

const messageOf = (e: unknown) => (e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e));

/** nft rejected a document or a command; `nftMessage` is nft's own text. */
export class NftError extends CommandError {
  get nftMessage(): string {
    return this.stderr.trim();
  }
}

/** Output from the outside world (ip -j, nft -j, a state file) did not match its schema. */
export class SchemaError extends NftbridgeError {
  constructor(
    readonly source: string,
    readonly issues: readonly z.core.$ZodIssue[],
  ) {
    super(`${source}: unexpected shape: ${issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
}

/** True when nft said the object is missing (used to treat "already gone" as success in teardown). */
export function isNotFound(err: unknown): boolean {
  return err instanceof CommandError && /No such file or directory|does not exist|Cannot find device|not found/i.test(err.stderr);
}

/** True when the kernel said the object already exists. */
export function isAlreadyExists(err: unknown): boolean {
  return err instanceof CommandError && /File exists|already exists/i.test(err.stderr);
}

/** A state file nftbridge cannot read: names the file, the line, and the command that recovers. */
export class StateFileError extends NftbridgeError {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(
      `${file}${line !== undefined ? `:${line}` : ''}: ${reason} (run "nftbridge recover" to keep what is readable, then "nftbridge apply")`,
    );
  }
}

/** The state directory could be written by someone else than its owner: nothing in it is trusted. */
export class UnsafeStateDirError extends NftbridgeError {
  constructor(
    readonly dir: string,
    readonly reason: string,
  ) {
    super(`state directory ${dir}: ${reason}`);
  }
}

/** True when the kernel refused another bridge port: a Linux bridge takes at most 1023 (EXFULL). */
export function isBridgeFull(err: unknown): boolean {
  return err instanceof CommandError && /Exchange full/i.test(err.stderr);
}
