/** iproute2 in one namespace: single commands, batches through one process, and `ip -j` readers. */
import { z } from 'zod';
import { BatchError, CommandError, SchemaError } from '../errors.js';

export { BatchError };
import type { Runner } from '../exec/runner.js';
import { LinkNotices } from './link-events.js';
import { LinkView, plainSnapshot, type LinkSnapshot } from './link-view.js';
import { NamespaceCache, type NamespaceProbe } from './netns.js';
import { IpSession } from './session.js';
import { addrSchema, linkSchema, neighSchema, routeSchema, type Link, type LinkAddresses, type Route } from './schema.js';

export type IpArgs = readonly string[];

function parseValue<T>(source: string, schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new SchemaError(source, parsed.error.issues);
  return parsed.data;
}

const parseJson = <T>(source: string, schema: z.ZodType<T>, text: string): T => parseValue(source, schema, JSON.parse(text || '[]'));

const unsafe = (l: IpArgs) => l.some((a) => /[\s"'\\#]/.test(a));

/** Global flags of the long-lived readers: links, addresses and IPv4 routes; IPv6 routes. */
const READ = ['-j', '-d'] as const;
const READ6 = ['-6', '-j', '-d'] as const;

export class Ip {
  /** Long-lived `ip -batch` processes by their global flags: none for changes, READ, READ6. */
  private readonly sessions = new Map<string, IpSession>();
  /** Links and addresses kept current by the kernel's notices (persistent only). */
  private view: { links: LinkView; notices: LinkNotices } | undefined;

  constructor(
    private readonly runner: Runner,
    /** Namespace path; the current namespace when absent. */
    readonly netns?: string,
    /**
     * Changes and reads go through long-lived `ip -batch` processes (see IpSession) instead of a
     * process each: for namespaces that see many of them, the host's.
     */
    private readonly persistent = false,
  ) {}

  private live(flags: readonly string[] = []): IpSession {
    const key = flags.join(' ');
    let session = this.sessions.get(key);
    if (!session?.alive) this.sessions.set(key, (session = new IpSession(this.netns, flags, this.runner)));
    return session;
  }

  /**
   * One line through the session. iproute2 caches interface indexes by name for the life of the
   * process, so a link that somebody else deleted and re-created under the same name fails there
   * ("No such device"): a failed line is retried once in a fresh session before it counts. A
   * failed netlink request changes nothing, so the retry is safe.
   */
  private async sessionRun(args: IpArgs): Promise<void> {
    try {
      await this.live().run(args);
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      await this.sessions.get('')?.close();
      await this.live().run(args);
    }
  }

  async run(args: IpArgs): Promise<void> {
    if (this.persistent && !unsafe(args)) await this.sessionRun(args);
    else await this.runner.run('ip', args, { netns: this.netns });
  }

  /** Several commands in one process: the cheapest way through iproute2. Stops at the first failure. */
  async batch(lines: readonly IpArgs[]): Promise<void> {
    if (lines.length === 0) return;
    if (lines.length === 1 && lines[0]) return this.run(lines[0]);
    for (const l of lines)
      if (unsafe(l)) throw new CommandError('ip', ['-batch'], undefined, `argument unsafe for a batch line: ${l.join(' ')}`);
    if (this.persistent) {
      for (const [i, l] of lines.entries())
        await this.sessionRun(l).catch((err: unknown) => {
          throw err instanceof CommandError ? new BatchError(i, lines, err) : err;
        });
      return;
    }
    try {
      await this.runner.run('ip', ['-batch', '-'], { input: `${lines.map((l) => l.join(' ')).join('\n')}\n`, netns: this.netns });
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      const m = /Command failed -:(\d+)/.exec(err.stderr);
      throw new BatchError(m?.[1] ? Number(m[1]) - 1 : 0, lines, err);
    }
  }

  /** Ends the long-lived `ip` processes, if any were started. */
  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    const notices = this.view?.notices;
    this.view = undefined;
    await Promise.all([...all.map((s) => s.close()), notices?.close()]);
  }

  /**
   * `ip -j` output, from a long-lived reader when persistent. Link and address dumps carry the
   * kernel's names; a route names its device through iproute2's index cache, where an unknown
   * index is looked up afresh (indexes are not reused), so only a link that somebody renamed
   * could show under its old name there.
   */
  private async read(flags: readonly string[], args: IpArgs): Promise<string> {
    if (!this.persistent) return (await this.runner.run('ip', [...flags, ...args], { netns: this.netns })).stdout;
    return (await this.live(flags).run(args, true)).join('\n');
  }

  async links(): Promise<Link[]> {
    return parseJson('ip -j link show', z.array(linkSchema), await this.read(READ, ['link', 'show']));
  }

  /**
   * Every link with its addresses. A long-lived Ip dumps them once and then keeps them current
   * from the kernel's notices (LinkView): a look at an unchanged host of 1,000 links costs an
   * exchange of a few bytes instead of a 1 MB dump.
   */
  async addresses(): Promise<LinkAddresses[]> {
    if (!this.persistent) return this.dumpAddresses();
    return [...(await this.linkSnapshot()).all];
  }

  /**
   * One look at links and addresses, indexed by name and alias. A long-lived Ip answers with the
   * view's own tables, moved along by later looks (LinkSnapshot.changes): nothing is copied.
   */
  async linkSnapshot(): Promise<LinkSnapshot> {
    if (!this.persistent) return plainSnapshot(await this.dumpAddresses());
    if (!this.view) {
      const notices = new LinkNotices(this.netns, this.runner);
      this.view = {
        notices,
        links: new LinkView(
          () => this.dumpAddresses(),
          notices,
          // A name gone since the drain means a dump anyway: no fresh reader to confirm it.
          (name) => this.link(name, false),
          (changed) => this.namespaces?.forget(changed),
        ),
      };
    }
    return this.view.links.snapshot();
  }

  private namespaces: NamespaceCache | undefined;

  /**
   * steadyNamespaces after a look of its own, when the view is kept current (the look is then an
   * exchange of a few bytes); `probe` itself otherwise, so that a one-shot's first look stays the
   * plain dump its own reads make.
   */
  async namespacesNow(probe: NamespaceProbe): Promise<NamespaceProbe> {
    if (!this.view?.links.current) return probe;
    await this.addresses();
    return this.steadyNamespaces(probe);
  }

  /**
   * `probe`, answering for namespace paths from what it said before, as long as no mount at or
   * above them changed (NamespaceCache); `probe` itself without a long-lived view. Ask right after
   * a look at addresses: that look is what vouches for the paths.
   */
  steadyNamespaces(probe: NamespaceProbe): NamespaceProbe {
    if (!this.view?.links.current) return probe;
    this.namespaces ??= new NamespaceCache(probe);
    return this.namespaces.probe === probe ? this.namespaces.view : probe;
  }

  private async dumpAddresses(): Promise<LinkAddresses[]> {
    return parseJson('ip -j addr show', z.array(addrSchema), await this.read(READ, ['addr', 'show']));
  }

  /**
   * The addresses of global scope and the links that carry them: what a new subnet may not
   * overlap. Host-side veths carry only link-local addresses, so this does not grow with endpoints.
   */
  async globalAddresses(): Promise<LinkAddresses[]> {
    // A view kept current answers without asking the kernel (ip dumps every link for this too).
    if (this.view?.links.current)
      return (await this.addresses())
        .map((l) => ({ ...l, addr_info: l.addr_info.filter((a) => a.scope === 'global') }))
        .filter((l) => l.addr_info.length > 0);
    // ip prints an empty object in place of each address the filter left out.
    const raw: unknown = JSON.parse((await this.read(READ, ['addr', 'show', 'scope', 'global'])) || '[]');
    const cleaned = Array.isArray(raw)
      ? raw.map((l: unknown) =>
          l && typeof l === 'object' && 'addr_info' in l && Array.isArray(l.addr_info)
            ? { ...l, addr_info: l.addr_info.filter((a: unknown) => a && typeof a === 'object' && Object.keys(a).length > 0) }
            : l,
        )
      : raw;
    return parseValue('ip -j addr show scope global', z.array(addrSchema), cleaned);
  }

  /**
   * One link with its addresses (alias, kind and master included), or undefined when there is no
   * such link: one line, not a dump of every link. A long-lived reader resolves names through a
   * cache, which a link re-created under its name makes stale: its "no such link" is asked again
   * of a fresh reader unless `confirmMissing` is false (a caller that finds out anyway, as adding
   * a link that exists fails).
   */
  async link(dev: string, confirmMissing = true): Promise<LinkAddresses | undefined> {
    const args = ['addr', 'show', 'dev', dev];
    const once = async () => {
      try {
        const found = parseJson('ip -j addr show dev', z.array(addrSchema), await this.read(READ, args))[0];
        return found?.ifname === dev ? found : undefined;
      } catch (err) {
        if (err instanceof CommandError && /does not exist|Cannot find device|No such device/i.test(err.stderr)) return undefined;
        throw err;
      }
    };
    const found = await once();
    if (found || !this.persistent || !confirmMissing) return found;
    await this.sessions.get(READ.join(' '))?.close();
    return once();
  }

  /**
   * Whether forwarding is on, by family, as the loopback device has it (net.ipv4.ip_forward and
   * net.ipv6.conf.all.forwarding are copied to every device): one line of a long-lived reader
   * instead of a process that reads /proc/sys in the namespace.
   */
  async forwarding(): Promise<{ 4: boolean; 6: boolean }> {
    const rows = parseJson(
      'ip -j netconf show dev lo',
      z.array(z.looseObject({ family: z.string(), forwarding: z.boolean().optional() })),
      await this.read(READ, ['netconf', 'show', 'dev', 'lo']),
    );
    const on = (family: string) => rows.some((r) => r.family === family && r.forwarding === true);
    return { 4: on('inet'), 6: on('inet6') };
  }

  async routes(family: 4 | 6 = 4): Promise<Route[]> {
    return parseJson('ip -j route show', z.array(routeSchema), await this.read(family === 4 ? READ : READ6, ['route', 'show']));
  }

  /** Addresses the host has seen answer on `dev` lately (neighbour entries that did not fail). */
  async neighbours(dev: string): Promise<string[]> {
    const all = parseJson('ip -j neigh show', z.array(neighSchema), await this.read(READ, ['neigh', 'show', 'dev', dev]));
    return all.filter((n) => n.lladdr !== undefined && !n.state.some((s) => s === 'FAILED' || s === 'INCOMPLETE')).map((n) => n.dst);
  }
}
