/** Docker's `-p` syntax: [HOST_IP:]HOST_PORT[-END]:CONTAINER_PORT[-END][/tcp|/udp]. */
import { ValidationError } from '../errors.js';
import { normalizeIp } from './cidr.js';
import type { Protocol, PublishedPort } from './state.js';

export interface PortSpec {
  hostIp?: string;
  hostPort: number;
  hostPortEnd: number;
  containerPort: number;
  containerPortEnd: number;
  protocol: Protocol;
}

export interface UnpublishSpec {
  hostIp?: string;
  hostPort: number;
  protocol: Protocol;
}

function port(field: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new ValidationError(field, `"${text}" is not a port number`);
  const n = Number(text);
  if (n < 1 || n > 65535) throw new ValidationError(field, `port ${n} is outside 1..65535`);
  return n;
}

function portRange(field: string, text: string): [number, number] {
  const [lo, hi, extra] = text.split('-');
  if (extra !== undefined || lo === undefined) throw new ValidationError(field, `"${text}" is not a port or PORT-END range`);
  const a = port(field, lo);
  const b = hi === undefined ? a : port(field, hi);
  if (b < a) throw new ValidationError(field, `range ${text} ends before it starts`);
  return [a, b];
}

function protocol(field: string, text: string | undefined): Protocol {
  const p = (text ?? 'tcp').toLowerCase();
  if (p !== 'tcp' && p !== 'udp') throw new ValidationError(field, `protocol "${text}" is not tcp or udp`);
  return p;
}

/** Splits off "[v6]:" or "v4:" host addresses ahead of the ports. */
function splitHostIp(field: string, text: string): { hostIp?: string; rest: string } {
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(text);
  if (v6?.[1] !== undefined && v6[2] !== undefined) return { hostIp: normalizeIp(field, v6[1]), rest: v6[2] };
  const parts = text.split(':');
  if (parts.length === 3) return { hostIp: normalizeIp(field, parts[0] ?? ''), rest: parts.slice(1).join(':') };
  return { rest: text };
}

const isAnyAddress = (ip: string | undefined) => ip === undefined || ip === '0.0.0.0' || ip === '::';

export function parsePublishSpec(spec: string, field = 'publish'): PortSpec {
  const f = `${field} "${spec}"`;
  const [body = '', proto, extra] = spec.split('/');
  if (extra !== undefined) throw new ValidationError(f, 'more than one "/"');
  const { hostIp, rest } = splitHostIp(f, body);
  const parts = rest.split(':');
  if (parts.length !== 2) throw new ValidationError(f, 'expected [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO]');
  const [hostPort, hostPortEnd] = portRange(f, parts[0] ?? '');
  const [containerPort, containerPortEnd] = portRange(f, parts[1] ?? '');
  if (hostPortEnd - hostPort !== containerPortEnd - containerPort)
    throw new ValidationError(f, 'host and container port ranges must have the same length');
  return {
    ...(isAnyAddress(hostIp) ? {} : { hostIp }),
    hostPort,
    hostPortEnd,
    containerPort,
    containerPortEnd,
    protocol: protocol(f, proto),
  };
}

/** HOST_PORT[/PROTO], optionally with a host address as in publish specs. */
export function parseUnpublishSpec(spec: string, field = 'unpublish'): UnpublishSpec {
  const f = `${field} "${spec}"`;
  const [body = '', proto, extra] = spec.split('/');
  if (extra !== undefined) throw new ValidationError(f, 'more than one "/"');
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(body);
  let hostIp: string | undefined;
  let portText = body;
  if (v6?.[1] !== undefined && v6[2] !== undefined) {
    hostIp = normalizeIp(f, v6[1]);
    portText = v6[2];
  } else if (body.includes(':')) {
    const idx = body.lastIndexOf(':');
    hostIp = normalizeIp(f, body.slice(0, idx));
    portText = body.slice(idx + 1);
  }
  return { ...(isAnyAddress(hostIp) ? {} : { hostIp }), hostPort: portRange(f, portText)[0], protocol: protocol(f, proto) };
}

/** A published port as Docker's `-p` would write it: `[HOST_IP:]HOST_PORT[-END]:CONTAINER_PORT[-END]/PROTO`. */
export function describePort(p: PublishedPort): string {
  const host = p.hostIp === undefined ? '' : p.hostIp.includes(':') ? `[${p.hostIp}]:` : `${p.hostIp}:`;
  const hp = p.hostPortEnd > p.hostPort ? `${p.hostPort}-${p.hostPortEnd}` : String(p.hostPort);
  const end = p.containerPort + (p.hostPortEnd - p.hostPort);
  const cp = end > p.containerPort ? `${p.containerPort}-${end}` : String(p.containerPort);
  return `${host}${hp}:${cp}/${p.protocol}`;
}
