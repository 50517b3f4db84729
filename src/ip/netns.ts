/**
 * Which network namespace a path names, and which namespaces may never be used as a container:
 * the host's, the caller's own and PID 1's. A container step run in one of those would change the
 * caller's own network (an address on its eth0, a default route, a `link del eth0` on repair).
 */
import { realpathSync, statfsSync, statSync } from 'node:fs';
import { ValidationError } from '../errors.js';
import type { Container } from '../topology/state.js';
import { ChangeLog, type Changes } from './change-log.js';

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

/** A probe that keeps identities between looks, and says which it forgot (reconcile/link-memo.ts). */
export interface SteadyNamespaces extends NamespaceProbe {
  readonly changes: Changes;
  /** Is the identity of `path` kept (so it stays what it was until `changes` names the path)? */
  kept(path: string): boolean;
}

/**
 * Identities of namespace paths kept between looks while no mount changed at or above them: a host
 * of 500 containers otherwise stats 500 nsfs mounts on every status (bench: "large host", status).
 * The mount points that changed come from the link notices' script (ip/link-events.ts). A path is
 * kept only when it is a mount of its own: a canonical path (no symlink on the way) outside /proc,
 * since /proc/PID/ns/net changes with the process and no mount tells of it.
 */
export class NamespaceCache {
  private readonly ids = new Map<string, string>();
  /** Paths known to be canonical (checked once: a realpath per path and look would cost what it saves). */
  private readonly canonical = new Set<string>();

  constructor(readonly probe: NamespaceProbe = kernelNamespaces) {}

  /**
   * Every directory above a path ever kept: only a mount point among them can have kept paths
   * under it. A container's own mount (/run/netns/NAME) is none, so its coming and going costs
   * a deletion, not a walk over the 500 paths kept.
   */
  private readonly above = new Set<string>();

  /** Mount points that came, went or changed: every path kept at or under one is asked again; 'all': every path. */
  forget(mountPoints: readonly string[] | 'all'): void {
    if (mountPoints === 'all') {
      this.ids.clear();
      this.log.record('all');
      return;
    }
    const dropped = new Set<string>();
    const drop = (p: string) => {
      if (this.ids.delete(p)) dropped.add(p);
    };
    for (const m of mountPoints) {
      drop(m);
      const dir = m.length > 1 && m.endsWith('/') ? m.slice(0, -1) : m;
      if (!this.above.has(dir)) continue;
      const under = dir === '/' ? '/' : `${dir}/`;
      for (const p of this.ids.keys()) if (p.startsWith(under)) drop(p);
    }
    this.log.record(dropped);
  }

  /** The paths forgotten since a version: a kept path's identity changes only with one that names it. */
  private readonly log = new ChangeLog();

  readonly view: SteadyNamespaces = {
    changes: this.log,
    kept: (path) => this.ids.has(path),
    identity: (path) => {
      const kept = this.ids.get(path);
      if (kept !== undefined) return kept;
      const id = this.probe.identity(path);
      // A path that is gone is asked again: it may come back as something that is no mount.
      if (id !== undefined && this.ownMount(path)) {
        this.ids.set(path, id);
        for (let i = path.lastIndexOf('/'); i >= 0; i = path.lastIndexOf('/', i - 1)) {
          this.above.add(i === 0 ? '/' : path.slice(0, i));
          if (i === 0) break;
        }
      }
      return id;
    },
    isNamespace: (path) => this.probe.isNamespace(path),
  };

  private ownMount(path: string): boolean {
    if (this.canonical.has(path)) return true;
    if (!path.startsWith('/') || path.startsWith('/proc/')) return false;
    try {
      if (realpathSync.native(path) !== path) return false;
    } catch {
      return false;
    }
    this.canonical.add(path);
    return true;
  }
}

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
