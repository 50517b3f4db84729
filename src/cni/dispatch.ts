/** One CNI call, from its environment and stdin to what goes on stdout and the exit code. */
import { add, check, del, gc, status, toCniError } from './plugin.js';
import { errorAnswer, LATEST, parseConfig, parseEnv, versionAnswer } from './spec.js';

export interface CniReply {
  stdout: string;
  code: number;
}

export async function runPlugin(environment: NodeJS.ProcessEnv, stdin: string): Promise<CniReply> {
  let version = LATEST;
  try {
    const env = parseEnv(environment);
    if (env.command === 'VERSION') return { stdout: versionAnswer(), code: 0 };
    const conf = parseConfig(stdin);
    version = conf.cniVersion;
    const io = { stdin };
    let stdout = '';
    if (env.command === 'ADD') stdout = JSON.stringify(await add(conf, env, io));
    else if (env.command === 'DEL') await del(conf, env, io);
    else if (env.command === 'CHECK') await check(conf, env);
    else if (env.command === 'GC') await gc(conf);
    else await status(conf);
    return { stdout, code: 0 };
  } catch (err) {
    return { stdout: errorAnswer(version, toCniError(err)), code: 1 };
  }
}
