#!/usr/bin/env node
/**
 * The CNI plugin's Node side, started by the launcher `nftbridge cni install` writes (which
 * answers VERSION itself). Reads the configuration on stdin and the CNI_* environment, prints the
 * result or the spec's error object on stdout, and exits non-zero on error.
 */
import { add, check, del, gc, status, toCniError } from './plugin.js';
import { errorAnswer, LATEST, parseConfig, parseEnv, versionAnswer } from './spec.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<number> {
  const stdin = await readStdin();
  let version = LATEST;
  try {
    const env = parseEnv(process.env);
    if (env.command === 'VERSION') {
      process.stdout.write(versionAnswer());
      return 0;
    }
    const conf = parseConfig(stdin);
    version = conf.cniVersion;
    const io = { stdin };
    if (env.command === 'ADD') process.stdout.write(JSON.stringify(await add(conf, env, io)));
    else if (env.command === 'DEL') await del(conf, env, io);
    else if (env.command === 'CHECK') await check(conf, env);
    else if (env.command === 'GC') await gc(conf);
    else await status(conf);
    return 0;
  } catch (err) {
    process.stdout.write(errorAnswer(version, toCniError(err)));
    return 1;
  }
}

process.exitCode = await main();
