/**
 * Which network namespace a path names, and which namespaces may never be used as a container:
 * the host's, the caller's own and PID 1's. A container step run in one of those would change the
 * caller's own network (an address on its eth0, a default route, a `link del eth0` on repair).
 */
import { statfsSync, statSync } from 'node:fs';
import { ValidationError } from '../errors.js';
import type { Container } from '../topology/state.js';

/** statfs(2) f_type of the nsfs pseudo file system (linux/magic.h). */
const NSFS_MAGIC = 0x6e736673;

/** "dev:ino" of the namespace a path names now; undefined when the path is gone. */
export function nsIdentity(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** Is this path a network namespace (an nsfs file), not /etc/passwd or a directory? */
export function isNamespaceFile(path: string): boolean {
  try {
    return statfsSync(path).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

/**
 * How nftbridge looks at namespaces in the file system: the kernel's nsfs, or (in tests without a
 * kernel) the fake runner's.
 */
export interface NamespaceProbe {
  /** "dev:ino" of the namespace a path names now; undefined when there is none. */
  identity(path: string): string | undefined;
  /** Is the path a network namespace at all (not /etc/passwd, not a directory)? */
  isNamespace(path: string): boolean;
}

export const kernelNamespaces: NamespaceProbe = { identity: (p) => nsIdentity(p), isNamespace: (p) => isNamespaceFile(p) };

/** The namespaces no container may be: `hostPath` (the host, or the current namespace), ours, PID 1's. */
export function forbiddenNamespaces(hostPath: string | undefined, probe: NamespaceProbe = kernelNamespaces): Map<string, string> {
  const out = new Map<string, string>();
  const add = (path: string, what: string) => {
    const id = probe.identity(path);
    if (id !== undefined && !out.has(id)) out.set(id, what);
  };
  add(hostPath ?? '/proc/self/ns/net', 'the host namespace');
  add('/proc/self/ns/net', "the calling process's own namespace");
  add('/proc/1/ns/net', "PID 1's namespace"); // unreadable without privileges: then nothing is added
  return out;
}

/**
 * Checks a container path that exists before anything is done with it: an nsfs file, and not one
 * of the forbidden namespaces. Returns its identity.
 */
export function checkContainerNamespace(
  field: string,
  path: string,
  hostPath: string | undefined,
  probe: NamespaceProbe = kernelNamespaces,
): string {
  if (!probe.isNamespace(path))
    throw new ValidationError(field, `${path} is not a network namespace (an nsfs file such as /run/netns/NAME or /proc/PID/ns/net)`);
  const id = probe.identity(path);
  if (id === undefined) throw new ValidationError(field, `namespace path ${path} does not exist`);
  const what = forbiddenNamespaces(hostPath, probe).get(id);
  if (what) throw new ValidationError(field, `${path} is ${what}; a container must have a namespace of its own`);
  return id;
}

/**
 * Is the container's namespace there, and still the one it was connected with? A path such as
 * /proc/PID/ns/net names another namespace once PID is reused: that is not our container.
 */
export function containerPresent(box: Container, probe: NamespaceProbe = kernelNamespaces): boolean {
  const id = probe.identity(box.netns);
  return id !== undefined && (box.nsid === undefined || box.nsid === id);
}
