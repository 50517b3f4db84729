#!/usr/bin/env node
/**
 * The CNI plugin's Node side, started by the launcher `nftbridge cni install` writes (which
 * answers VERSION itself, and hands calls to the resident helper when one runs). Reads the
 * configuration on stdin and the CNI_* environment, prints the result or the spec's error object
 * on stdout, and exits non-zero on error. `--serve SOCKET` runs the helper instead.
 */
import { fileURLToPath } from 'node:url';
import { runPlugin } from './dispatch.js';
import { ensureHelper, serve } from './helper.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<number | undefined> {
  const [flag, socket] = process.argv.slice(2);
  if (flag === '--serve' && socket) {
    await serve(socket);
    return undefined;
  }
  const reply = await runPlugin(process.env, await readStdin());
  process.stdout.write(reply.stdout);
  // The next calls go to a helper (the launcher passes its run directory).
  const runDir = process.env.NFTBRIDGE_CNI_RUN_DIR;
  if (runDir) await ensureHelper(runDir, fileURLToPath(import.meta.url), process.env).catch(() => undefined);
  return reply.code;
}

const code = await main();
if (code !== undefined) process.exitCode = code;
