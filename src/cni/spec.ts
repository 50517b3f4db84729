/**
 * What the CNI spec (1.1) fixes for a plugin: the versions, the error codes, the environment and
 * the network configuration on stdin, parsed with zod. Only nftbridge's own keys are checked;
 * other keys (another plugin's, a runtime's) are left alone, as the spec asks.
 */
import { z } from 'zod';

export const CNI_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export const LATEST = '1.1.0';

/** The spec's error codes (plugin-specific ones start at 100). */
export const CODE = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  io: 5,
  decode: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  notAvailable: 50,
  limitedConnectivity: 51,
  /** A second ADD for the same container and interface. */
  alreadyAttached: 100,
  failed: 999,
} as const;

export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details = '',
  ) {
    super(message);
  }
}

const portMapping = z.object({
  hostPort: z.number().int().min(1).max(65535),
  containerPort: z.number().int().min(1).max(65535),
  protocol: z.string().optional(),
  hostIP: z.string().optional(),
});
export type PortMapping = z.infer<typeof portMapping>;

/** The plugin object of a conflist, with what the runtime adds (name, cniVersion, runtimeConfig, prevResult). */
export const configSchema = z.looseObject({
  cniVersion: z.string().default('1.0.0'),
  name: z.string().min(1),
  type: z.string().optional(),
  bridge: z.string().optional(),
  subnet: z.string().optional(),
  subnets: z.array(z.string()).optional(),
  gateway: z.string().optional(),
  stateDir: z.string().optional(),
  internal: z.boolean().optional(),
  icc: z.boolean().optional(),
  mtu: z.number().int().optional(),
  ipam: z.looseObject({ type: z.string().optional() }).optional(),
  dns: z.looseObject({}).optional(),
  runtimeConfig: z
    .looseObject({
      portMappings: z.array(portMapping).optional(),
      ips: z.array(z.string()).optional(),
      mac: z.string().optional(),
    })
    .optional(),
  prevResult: z.looseObject({}).optional(),
  'cni.dev/valid-attachments': z.array(z.looseObject({ containerID: z.string(), ifname: z.string() })).optional(),
});
export type CniConfig = z.infer<typeof configSchema>;

export type Command = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION';

export interface CniEnv {
  command: Command;
  containerId: string;
  netns: string;
  ifname: string;
  /** CNI_ARGS as KEY=VALUE pairs (Podman's IP= and MAC=; K8S_POD_NAME and the like pass through). */
  args: Map<string, string>;
  path: string[];
  /** Every variable of the call, for a delegated IPAM plugin (the helper's own environment is not the call's). */
  raw: NodeJS.ProcessEnv;
}

/** The environment, checked for what each command needs (code 4 when something is missing). */
export function parseEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = env.CNI_COMMAND ?? '';
  if (!['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'].includes(command))
    throw new CniError(CODE.invalidEnvironment, `CNI_COMMAND "${command}" is not one of ADD, DEL, CHECK, STATUS, GC, VERSION`);
  const need = (name: string): string => {
    const v = env[name];
    if (!v) throw new CniError(CODE.invalidEnvironment, `${name} is required for ${command}`);
    return v;
  };
  const perContainer = command === 'ADD' || command === 'DEL' || command === 'CHECK';
  const args = new Map<string, string>();
  for (const pair of (env.CNI_ARGS ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0) args.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return {
    command: command as Command,
    containerId: perContainer ? need('CNI_CONTAINERID') : (env.CNI_CONTAINERID ?? ''),
    // DEL is best effort: containerd's ctr sends no namespace at all.
    netns: command === 'ADD' || command === 'CHECK' ? need('CNI_NETNS') : (env.CNI_NETNS ?? ''),
    ifname: perContainer ? need('CNI_IFNAME') : (env.CNI_IFNAME ?? ''),
    args,
    path: (env.CNI_PATH ?? '').split(':').filter((p) => p !== ''),
    raw: env,
  };
}

/** The configuration on stdin: code 6 when it is not JSON, 7 when a key of nftbridge's is wrong, 1 for a version it does not speak. */
export function parseConfig(text: string): CniConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CniError(CODE.decode, 'the network configuration on stdin is not JSON', String(err));
  }
  const parsed = configSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CniError(CODE.invalidConfig, `${issue?.path.join('.') || 'config'}: ${issue?.message ?? 'invalid'}`);
  }
  if (!(CNI_VERSIONS as readonly string[]).includes(parsed.data.cniVersion))
    throw new CniError(
      CODE.incompatibleVersion,
      `cniVersion ${parsed.data.cniVersion} is not supported`,
      `supported: ${CNI_VERSIONS.join(', ')}`,
    );
  return parsed.data;
}

export const versionAnswer = (): string => JSON.stringify({ cniVersion: LATEST, supportedVersions: CNI_VERSIONS });

export const errorAnswer = (cniVersion: string, err: CniError): string =>
  JSON.stringify({ cniVersion, code: err.code, msg: err.message, ...(err.details ? { details: err.details } : {}) });
