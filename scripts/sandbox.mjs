#!/usr/bin/env node
// Runs a command (the test suite, the benchmarks) inside a sandbox: a user + network + mount
// namespace with a private /run/netns, so nothing it creates can outlive it or touch the host.
// Needs the build (dist/) first; `npm test` builds.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SANDBOX_ENV, canSandbox, prepareSandbox, runSandboxed } from '../dist/lab/sandbox.js';

const argv = process.argv.slice(2);
if (argv.length === 0) {
  console.error('usage: node scripts/sandbox.mjs COMMAND [ARG...]');
  process.exit(2);
}
if (process.env[SANDBOX_ENV] === 'pending') {
  prepareSandbox();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: 'inherit', env: { ...process.env, [SANDBOX_ENV]: '1' } });
  process.exit(r.status ?? 1);
} else if (process.env[SANDBOX_ENV] === '1') {
  const r = spawnSync(argv[0], argv.slice(1), { stdio: 'inherit' });
  process.exit(r.status ?? 1);
} else if (canSandbox()) {
  process.exit(runSandboxed([process.execPath, fileURLToPath(import.meta.url), ...argv]));
} else {
  console.error('sandbox: user namespaces are not available here; running without one');
  const r = spawnSync(argv[0], argv.slice(1), { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
