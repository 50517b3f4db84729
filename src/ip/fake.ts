/**
 * An in-memory iproute2 for tests without a kernel: namespaces holding links (bridges, veth
 * pairs), their masters, aliases, state and addresses, and the routes that come with addresses.
 * It understands the commands nftbridge sends (one-shot, `-n NAME`, `-batch -`) and answers
 * `-j -d addr show`, `link show` and `route show` in the shape `ip -j` prints.
 */

/** An ip failure as the binary reports it (stderr text), for the fake runner to throw. */
export class FakeIpFailure extends Error {}

interface FakeLink {
  ifindex: number;
  ifname: string;
  kind: string;
  up: boolean;
  master?: string;
  ifalias?: string;
  peer?: { ns: string; name: string };
  addrs: { family: 'inet' | 'inet6'; local: string; prefixlen: number }[];
}

const fail = (msg: string): never => {
  throw new FakeIpFailure(msg);
};

export class FakeIp {
  /** Links by namespace key: a path, or "" for the current namespace. */
  private readonly spaces = new Map<string, Map<string, FakeLink>>();
  /** When each namespace was made: a namespace made again under a path is another one. */
  private readonly born = new Map<string, number>();
  private nextIndex = 2;

  constructor() {
    this.space('');
  }

  /** The links of a namespace (created empty but for lo when first named). */
  space(ns: string): Map<string, FakeLink> {
    let links = this.spaces.get(ns);
    if (!links) {
      links = new Map([['lo', { ifindex: 1, ifname: 'lo', kind: 'loopback', up: false, addrs: [] }]]);
      this.spaces.set(ns, links);
      this.born.set(ns, this.nextIndex++);
    }
    return links;
  }

  hasNamespace(ns: string): boolean {
    return this.spaces.has(ns);
  }

  /** The identity of the namespace a path names now (it changes when the namespace is made again). */
  identity(ns: string): string | undefined {
    return this.spaces.has(ns) ? `fake:${this.born.get(ns) ?? 0}` : undefined;
  }

  /** Runs `ip [GLOBAL FLAGS] ARGS` in namespace `ns`; returns stdout. `input` carries a batch. */
  run(ns: string, argv: readonly string[], input = ''): string {
    const args = [...argv];
    let json = false;
    let v6 = false;
    for (;;) {
      const flag = args[0];
      if (flag === '-j') json = true;
      else if (flag === '-6') v6 = true;
      else if (flag === '-n') ns = `/run/netns/${args.splice(1, 1)[0] ?? ''}`;
      else if (flag !== '-d' && flag !== '-force') break;
      args.shift();
    }
    if (args[0] === '-batch') {
      for (const line of input.split('\n').filter((l) => l.trim() !== '')) this.run(ns, line.trim().split(/\s+/));
      return '';
    }
    const [object, verb, ...words] = args;
    // `dev NAME` (link set, link del) and `name NAME` (link add) name the link as a bare NAME does.
    const named = object === 'link' && (words[0] === 'dev' || (verb === 'add' && words[0] === 'name'));
    const rest = named ? words.slice(1) : words;
    if (object === 'netns') return this.netns(verb, rest[0] ?? '');
    if (object === 'link' && verb === 'show') return JSON.stringify([...this.space(ns).values()].map((l) => this.describe(l, false)));
    if (object === 'addr' && verb === 'show') return this.showAddr(ns, rest);
    if (object === 'route' && verb === 'show') return JSON.stringify(this.routes(ns, v6 ? 'inet6' : 'inet'));
    if (object === 'link' && verb === 'add') return this.add(ns, rest);
    if (object === 'link' && verb === 'del') return this.del(ns, rest[0] ?? '');
    if (object === 'link' && verb === 'set') return this.set(ns, rest);
    if (object === 'addr' && verb === 'add') return this.addr(ns, rest);
    if (object === 'route') return ''; // routes beyond those of addresses are not modelled
    if (object === 'neigh') return verb === 'show' ? '[]' : ''; // nobody else on the segment
    void json;
    return fail(`Object "${object}" is unknown, try "ip help".`);
  }

  /** `addr show`, `addr show dev NAME` (ip's message when missing) or `addr show scope global`. */
  private showAddr(ns: string, rest: string[]): string {
    const dev = rest[0] === 'dev' ? rest[1] : undefined;
    if (dev !== undefined && !this.space(ns).has(dev)) fail(`Device "${dev}" does not exist.`);
    const links = [...this.space(ns).values()].filter((l) => dev === undefined || l.ifname === dev);
    // With a scope, links without an address of it are left out, as ip does (every fake address is global).
    const shown = rest[0] === 'scope' ? links.filter((l) => l.addrs.length > 0) : links;
    return JSON.stringify(shown.map((l) => this.describe(l, true)));
  }

  private netns(verb: string | undefined, name: string): string {
    const key = `/run/netns/${name}`;
    if (verb === 'add') {
      if (this.spaces.has(key)) fail(`Cannot create namespace file "${key}": File exists`);
      this.space(key);
    } else if (verb === 'del') {
      if (!this.spaces.delete(key)) fail(`Cannot remove namespace file "${key}": No such file or directory`);
    }
    return '';
  }

  private link(ns: string, name: string): FakeLink {
    return this.space(ns).get(name) ?? fail(`Cannot find device "${name}"`);
  }

  private add(ns: string, rest: string[]): string {
    const name = rest[0] ?? '';
    const kind = rest[rest.indexOf('type') + 1] ?? '';
    const links = this.space(ns);
    if (links.has(name)) fail('RTNETLINK answers: File exists');
    const link: FakeLink = { ifindex: this.nextIndex++, ifname: name, kind, up: false, addrs: [] };
    if (kind === 'veth') {
      const peer = rest[rest.indexOf('name') + 1] ?? '';
      const at = rest.indexOf('netns');
      const peerNs = at >= 0 ? (rest[at + 1] ?? '') : ns;
      const peerLinks = this.space(peerNs);
      if (peerLinks.has(peer)) fail('RTNETLINK answers: File exists');
      peerLinks.set(peer, { ifindex: this.nextIndex++, ifname: peer, kind: 'veth', up: false, addrs: [], peer: { ns, name } });
      link.peer = { ns: peerNs, name: peer };
    }
    links.set(name, link);
    return '';
  }

  private del(ns: string, name: string): string {
    const link = this.link(ns, name);
    this.space(ns).delete(name);
    if (link.peer) this.spaces.get(link.peer.ns)?.delete(link.peer.name);
    for (const l of this.space(ns).values()) if (l.master === name) delete l.master;
    return '';
  }

  private set(ns: string, rest: string[]): string {
    const link = this.link(ns, rest[0] ?? '');
    for (let i = 1; i < rest.length; i++) {
      const word = rest[i];
      if (word === 'up') link.up = true;
      else if (word === 'down') link.up = false;
      else if (word === 'alias') link.ifalias = rest[++i] ?? '';
      else if (word === 'master') link.master = this.link(ns, rest[++i] ?? '').ifname;
      else if (word === 'type') break; // bridge port flags are not modelled
    }
    return '';
  }

  private addr(ns: string, rest: string[]): string {
    const [cidr = '', , dev = ''] = rest;
    const [local = '', len = '32'] = cidr.split('/');
    const link = this.link(ns, dev);
    if (link.addrs.some((a) => a.local === local)) fail('RTNETLINK answers: File exists');
    link.addrs.push({ family: local.includes(':') ? 'inet6' : 'inet', local, prefixlen: Number(len) });
    return '';
  }

  private describe(l: FakeLink, withAddrs: boolean): Record<string, unknown> {
    return {
      ifindex: l.ifindex,
      ifname: l.ifname,
      flags: l.up ? ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'] : ['BROADCAST', 'MULTICAST'],
      ...(l.master ? { master: l.master } : {}),
      ...(l.ifalias ? { ifalias: l.ifalias } : {}),
      linkinfo: { info_kind: l.kind },
      ...(withAddrs ? { addr_info: l.addrs.map((a) => ({ ...a, scope: 'global' })) } : {}),
    };
  }

  /** The kernel's route for each address's subnet (IPv4 arithmetic only; IPv6 routes by prefix text). */
  private routes(ns: string, family: 'inet' | 'inet6'): { dst: string; dev: string; protocol: string }[] {
    const out: { dst: string; dev: string; protocol: string }[] = [];
    for (const l of this.space(ns).values())
      for (const a of l.addrs.filter((x) => x.family === family))
        out.push({ dst: subnetOf(a.local, a.prefixlen), dev: l.ifname, protocol: 'kernel' });
    return out;
  }
}

function subnetOf(addr: string, len: number): string {
  if (addr.includes(':')) return `${addr.replace(/::?[0-9a-f]*$/i, '::')}/${len}`;
  const v = addr.split('.').reduce((acc, p) => (acc << 8) + Number(p), 0) >>> 0;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  const n = (v & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.')}/${len}`;
}
