/**
 * IPAM delegated to another plugin when the configuration has an `ipam` section (host-local, say):
 * run from CNI_PATH with the same configuration and environment, as the spec's delegation says.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { CniError, CODE } from './spec.js';

const ipamResult = z.looseObject({
  ips: z.array(z.looseObject({ address: z.string(), gateway: z.string().optional() })).default([]),
});
export type IpamResult = z.infer<typeof ipamResult>;

const errorReply = z.looseObject({ code: z.number(), msg: z.string(), details: z.string().optional() });

export async function delegateIpam(
  type: string,
  command: 'ADD' | 'DEL' | 'CHECK',
  stdin: string,
  path: readonly string[],
  environment: NodeJS.ProcessEnv = process.env,
): Promise<IpamResult | undefined> {
  if (!/^[A-Za-z0-9_.-]+$/.test(type)) throw new CniError(CODE.invalidConfig, `ipam.type "${type}" is not a plugin name`);
  const binary = path.map((dir) => join(dir, type)).find((f) => existsSync(f));
  if (!binary) throw new CniError(CODE.invalidEnvironment, `IPAM plugin "${type}" not found in CNI_PATH (${path.join(':')})`);
  const r = await execa(binary, [], {
    input: stdin,
    env: { PATH: process.env.PATH, ...environment, CNI_COMMAND: command },
    extendEnv: false,
    reject: false,
  });
  const out = String(r.stdout).trim();
  if (r.exitCode !== 0) {
    const parsed = errorReply.safeParse(safeJson(out));
    if (parsed.success) throw new CniError(parsed.data.code, `ipam ${type}: ${parsed.data.msg}`, parsed.data.details ?? '');
    throw new CniError(CODE.failed, `ipam ${type} failed (exit ${r.exitCode})`, String(r.stderr || out));
  }
  if (command !== 'ADD') return undefined;
  const parsed = ipamResult.safeParse(safeJson(out));
  if (!parsed.success) throw new CniError(CODE.decode, `ipam ${type} printed no result`, out);
  return parsed.data;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
