/**
 * The public entry point: one host (the current network namespace, or a named one), its desired
 * state on disk, and the operations that move the kernel to it.
 */
import { basename } from 'node:path';
import { lastValueFrom, type Observable } from 'rxjs';
import { ConflictError, NotFoundError, ValidationError, NftbridgeError, StateFileError, isNotFound } from './errors.js';
import { defaultRunner, type Runner } from './exec/runner.js';
import { Firewall } from './firewall/firewall.js';
import { FAMILY, TABLE } from './firewall/names.js';
import { renderRuleset } from './firewall/render.js';
import { Ip } from './ip/ip.js';
import type { LinkAddresses } from './ip/schema.js';
import { forgetStaleFlows } from './ip/conntrack.js';
import { NftClient } from './nft/client.js';
import type { NftDocument } from './nft/schema.js';
import { operation, type OperationEvent, type Step } from './ops/operation.js';
import { bridgePortArgs, bridgeStep, containerStep, forwardingStep, netnsStep, removeLinksStep, vethStep } from './ops/steps.js';
import { ownerMark } from './ops/ownership.js';
import { checkContainerNamespace, forbiddenNamespaces, nsIdentity } from './ip/netns.js';
import { checkHostOverlap } from './topology/host-overlap.js';
import { IntentLog, type Intent } from './topology/intent.js';
import { findOrphans, removeOrphans } from './reconcile/orphans.js';
import { withoutPorts } from './topology/store.js';
import { pathExists } from './exec/path-exists.js';
import { parseCidr } from './topology/cidr.js';
import {
  checkContainerName,
  findEndpoint,
  findNetwork,
  netnsPath,
  newHostIfname,
  planEndpoint,
  planNetwork,
  planPublish,
  planUnpublish,
  type ConnectInput,
  type CreateNetworkInput,
} from './topology/plan.js';
import { parseUnpublishSpec } from './topology/publish-spec.js';
import { emptyState, type Container, type Endpoint, type Network, type PublishedPort, type State } from './topology/state.js';
import { StateStore } from './topology/store.js';
import { containerPresent, observeDrift, type Drift, type OwnerContext } from './reconcile/drift.js';
import { Controller, topologyEvents, type ControllerOptions } from './reconcile/controller.js';
import type { RulesetEvent, TopologyEvent } from './monitor/events.js';

export interface HostOptions {
  /** A named namespace (or a path) to treat as the host; the current namespace when absent. */
  netns?: string;
  /** Where the desired state lives; default $NFTBRIDGE_STATE_DIR or /var/lib/nftbridge. */
  stateDir?: string;
  /**
   * Starts every process (ip, nft, nsenter). With a runner of one's own every command goes
   * through it, one process each; the default runner also keeps long-lived ip and nft processes
   * for the Host's frequent changes and reads (close() ends them).
   */
  runner?: Runner;
}

export interface Status {
  state: State;
  drift: Drift[];
}

export const DEFAULT_STATE_DIR = '/var/lib/nftbridge';

export class Host {
  readonly ip: Ip;
  /** `ip` in the current namespace, which creates and deletes container namespaces. */
  readonly nsIp: Ip;
  readonly nft: NftClient;
  readonly firewall: Firewall;
  /** The alias every link made for this state carries (ops/ownership.ts). */
  readonly mark: string;
  /** What an operation is about to create, for recovery after a kill (topology/intent.ts). */
  readonly intents: IntentLog;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly runner: Runner,
    /** Path of the host namespace, or undefined for the current one. */
    readonly netns: string | undefined,
    readonly store: StateStore,
    /** The desired state as last read or written by this object; an error when it could not be read. */
    private current: State | StateFileError,
  ) {
    this.mark = ownerMark(store.file);
    this.intents = new IntentLog(store.intentFile);
    // Long-lived ip and nft processes start without the runner; a runner of one's own (to log,
    // or to script a test) sees every command only if none are used.
    const persistent = runner === defaultRunner;
    this.ip = new Ip(runner, netns, persistent);
    this.nsIp = netns === undefined ? this.ip : new Ip(runner, undefined, persistent);
    this.nft = new NftClient(runner, FAMILY, TABLE, netns, persistent);
    this.firewall = new Firewall(this.nft);
  }

  static async open(options: HostOptions = {}): Promise<Host> {
    let path: string | undefined;
    if (options.netns !== undefined) {
      checkContainerName('netns', options.netns);
      path = netnsPath(options.netns);
      if (!(await pathExists(path))) throw new NotFoundError('netns', `namespace ${path} does not exist`);
    }
    const dir = options.stateDir ?? process.env.NFTBRIDGE_STATE_DIR ?? DEFAULT_STATE_DIR;
    // One state file per host namespace, so several sandboxes can share a state directory.
    const key = options.netns === undefined ? 'host' : `netns-${basename(options.netns).replace(/[^A-Za-z0-9_.-]/g, '_')}`;
    const store = new StateStore(dir, key);
    store.checkDir();
    // An unreadable state still opens, so that `recover` can run; every operation reports it.
    const state = await store.read().catch((err: unknown) => {
      if (err instanceof StateFileError) return err;
      throw err;
    });
    return new Host(options.runner ?? defaultRunner, path, store, state);
  }

  /** The desired state, once the operations this process has in flight (rollbacks included) are over. */
  async state(): Promise<State> {
    await this.queue.catch(() => undefined);
    this.current = await this.store.read();
    return this.current;
  }

  /**
   * The nftables JSON document for the desired state as this Host last saw it (at open, or after
   * its last operation); nothing is applied. `await host.state()` first to pick up other processes' changes.
   */
  ruleset(): NftDocument {
    if (this.current instanceof StateFileError) throw this.current;
    return renderRuleset(this.current);
  }

  /** The owner context for drift and orphan detection. */
  ownerContext(state?: State): OwnerContext {
    return { mark: this.mark, intent: this.intents.read(), ...(state ? { state } : {}) };
  }

  // ---- Observable forms -------------------------------------------------------------------

  createNetwork$(input: CreateNetworkInput): Observable<OperationEvent<Network>> {
    return this.op('create-network', async (state) => {
      const net = planNetwork(state, input);
      // The host's own addresses and routes, and its links: a subnet the host already reaches, or
      // a bridge name in use, is refused before anything changes.
      const [links, routes4, routes6] = await Promise.all([this.ip.addresses(), this.ip.routes(4), this.ip.routes(6)]);
      checkHostOverlap(net, links, [...routes4, ...routes6]);
      if (links.some((l) => l.ifname === net.bridge)) throw new ConflictError('bridge', `an interface named ${net.bridge} already exists`);
      const next: State = { ...state, networks: [...state.networks, net] };
      const families = new Set(net.subnets.map((s) => parseCidr('subnet', s.cidr).family));
      return {
        steps: [bridgeStep(this.runner, this.ip, net, this.mark), forwardingStep(this.runner, this.netns, families), this.rebuildStep(state, next), this.saveStep(state, next)],
        result: () => net,
        creates: { links: [net.bridge] },
      };
    });
  }

  connect$(network: string, container: string, input: ConnectInput = {}): Observable<OperationEvent<Endpoint>> {
    return this.op('connect', async (state) => {
      const net = findNetwork(state, network);
      checkContainerName('container', container);
      const known = state.containers.find((c) => c.name === container);
      const path = netnsPath(container);
      const exists = await pathExists(path);
      if (!known && container.includes('/') && !exists) throw new NotFoundError('container', `namespace path ${path} does not exist`);
      // Never the host's, the caller's own or PID 1's namespace, nor a file that is no namespace.
      const nsid = exists ? checkContainerNamespace('container', path, this.netns) : undefined;
      if (known && !containerPresent(known))
        throw new ConflictError('container', `${path} is not the namespace "${container}" was connected with (it is gone or was replaced); disconnect it first`);
      // Addresses on the bridge itself are taken too (IPAM never hands out one in use on the segment).
      const onBridge = (await this.ip.addresses()).filter((l) => l.ifname === net.bridge).flatMap((l) => l.addr_info.map((a) => a.local));
      const ep = planEndpoint(state, network, container, input, newHostIfname(state), onBridge);
      // A path is pinned to the namespace it names now; a name is the container's identity itself
      // (a namespace re-created under that name is the container coming back).
      const pinned = container.includes('/') && nsid ? { nsid } : {};
      const box: Container = known ?? { name: container, netns: path, created: !container.includes('/') && !exists, ...pinned };
      // The first network with egress gives the default route, as Docker's first network does.
      const hasRoute = state.endpoints.some((e) => e.container === container && !findNetwork(state, e.network).internal);
      const next: State = {
        ...state,
        containers: known ? state.containers : [...state.containers, box],
        endpoints: [...state.endpoints, ep],
      };
      const steps: Step[] = [];
      if (!known) steps.push(netnsStep(this.nsIp, box));
      // Its addresses are allowed through its port before the port exists: never a moment unchecked.
      steps.push({
        name: 'firewall',
        detail: `source addresses ${ep.addresses.join(' ')} on ${ep.hostIfname}`,
        run: () => this.firewall.addEndpoint(next, ep),
        undo: () => this.firewall.removeEndpoint(ep, state),
      });
      steps.push(vethStep(this.ip, net, ep, box.netns, this.mark));
      steps.push(containerStep(new Ip(this.runner, box.netns), net, ep, !net.internal && !hasRoute, this.mark));
      steps.push(this.saveStep(state, next));
      return { steps, result: () => ep, creates: { links: [ep.hostIfname], netns: box.created && !known ? [box.name] : [] } };
    });
  }

  publish$(network: string, container: string, specs: readonly string[]): Observable<OperationEvent<PublishedPort[]>> {
    return this.op('publish', async (state) => {
      const ports = planPublish(state, network, container, specs);
      const next: State = { ...state, ports: [...state.ports, ...ports] };
      return {
        steps: [
          {
            name: 'firewall',
            detail: ports.map(describePort).join(', '),
            run: async () => {
              await this.firewall.addPorts(next, ports);
              await forgetStaleFlows(this.runner, this.netns, ports);
            },
            undo: async () => void (await this.firewall.removePorts(next, ports, state)),
          },
          this.portsStep(state, next, ports, []),
        ],
        result: () => ports,
      };
    });
  }

  unpublish$(network: string, container: string, specs: readonly string[]): Observable<OperationEvent<PublishedPort[]>> {
    return this.op('unpublish', async (state) => {
      const ports = planUnpublish(state, network, container, specs.map((s) => parseUnpublishSpec(s, 'spec')));
      const next: State = { ...state, ports: withoutPorts(state.ports, ports) };
      return {
        steps: [
          {
            name: 'firewall',
            detail: ports.map(describePort).join(', '),
            run: async () => void (await this.firewall.removePorts(state, ports, next)),
            undo: async () => void (await this.firewall.addPorts(state, ports)),
          },
          this.portsStep(state, next, [], ports),
        ],
        result: () => ports,
      };
    });
  }

  disconnect$(network: string, container: string): Observable<OperationEvent<Endpoint>> {
    return this.op('disconnect', async (state) => {
      findNetwork(state, network);
      const ep = findEndpoint(state, network, container);
      const ports = state.ports.filter((p) => p.network === network && p.container === container);
      const endpoints = state.endpoints.filter((e) => e !== ep);
      const box = state.containers.find((c) => c.name === container);
      const stillUsed = endpoints.some((e) => e.container === container);
      const next: State = {
        ...state,
        endpoints,
        ports: withoutPorts(state.ports, ports),
        containers: stillUsed ? state.containers : state.containers.filter((c) => c.name !== container),
      };
      const steps: Step[] = [];
      if (ports.length > 0)
        steps.push({
          name: 'firewall',
          detail: ports.map(describePort).join(', '),
          run: async () => void (await this.firewall.removePorts(state, ports, next)),
          undo: async () => void (await this.firewall.addPorts(state, ports)),
        });
      steps.push(removeLinksStep(this.ip, [ep.hostIfname], 'veth', this.mark));
      steps.push({
        name: 'firewall',
        detail: `source addresses of ${ep.hostIfname}`,
        run: () => this.firewall.removeEndpoint(ep, next),
        undo: () => this.firewall.addEndpoint(state, ep),
      });
      if (!stillUsed && box?.created) steps.push(this.removeNetnsStep(box));
      steps.push(this.saveStep(state, next));
      return { steps, result: () => ep };
    });
  }

  removeNetwork$(name: string): Observable<OperationEvent<Network>> {
    return this.op('remove-network', async (state) => {
      const net = findNetwork(state, name);
      const users = state.endpoints.filter((e) => e.network === name).map((e) => e.container);
      if (users.length > 0) throw new ValidationError('network', `network "${name}" still has containers connected: ${users.join(', ')}`);
      const next: State = { ...state, networks: state.networks.filter((n) => n !== net) };
      return {
        steps: [this.rebuildStep(state, next), removeLinksStep(this.ip, [net.bridge], 'bridge', this.mark), this.saveStep(state, next)],
        result: () => net,
      };
    });
  }

  /** Converges the kernel to the desired state; running it twice changes nothing the second time. */
  apply$(): Observable<OperationEvent<NftDocument>> {
    return this.op('apply', async (state) => {
      let doc: NftDocument | undefined;
      const steps: Step[] = [
        this.orphansStep(state),
        { name: 'links', detail: 'bridges and endpoints', run: () => this.ensureLinks(state, { recreateNamespaces: true }) },
        { name: 'firewall', detail: 'rebuild table nftbridge', run: async () => void (doc = await this.firewall.rebuild(state)) },
      ];
      return { steps, result: () => doc ?? renderRuleset(state) };
    });
  }

  /** Removes everything nftbridge made in this host: table, veths, bridges, namespaces it created. */
  down$(): Observable<OperationEvent<State>> {
    return this.op('down', async (state) => {
      // Firewall first while the links still exist, then endpoints, then bridges (netavark's order).
      const steps: Step[] = [{ name: 'firewall', detail: `delete table ${FAMILY} ${TABLE}`, run: () => this.firewall.remove() }, this.orphansStep(state)];
      if (state.endpoints.length > 0) steps.push(removeLinksStep(this.ip, state.endpoints.map((ep) => ep.hostIfname), 'veths', this.mark));
      if (state.networks.length > 0) steps.push(removeLinksStep(this.ip, state.networks.map((n) => n.bridge), 'bridges', this.mark));
      for (const box of state.containers) if (box.created) steps.push(this.removeNetnsStep(box));
      steps.push(this.saveStep(state, emptyState()));
      return { steps, result: () => state };
    });
  }

  // ---- Promise forms: the last value of each Observable --------------------------------------

  createNetwork(input: CreateNetworkInput): Promise<Network> {
    return last(this.createNetwork$(input));
  }
  connect(network: string, container: string, input: ConnectInput = {}): Promise<Endpoint> {
    return last(this.connect$(network, container, input));
  }
  publish(network: string, container: string, specs: readonly string[]): Promise<PublishedPort[]> {
    return last(this.publish$(network, container, specs));
  }
  unpublish(network: string, container: string, specs: readonly string[]): Promise<PublishedPort[]> {
    return last(this.unpublish$(network, container, specs));
  }
  disconnect(network: string, container: string): Promise<Endpoint> {
    return last(this.disconnect$(network, container));
  }
  removeNetwork(name: string): Promise<Network> {
    return last(this.removeNetwork$(name));
  }
  apply(): Promise<NftDocument> {
    return last(this.apply$());
  }
  down(): Promise<State> {
    return last(this.down$());
  }

  /**
   * Typed topology events of this host (links, addresses, routes, named namespaces) and changes to
   * the owned table; monitors run while subscribed. Filter by kind with `isKind('link')`.
   */
  events$(): Observable<TopologyEvent | RulesetEvent> {
    return topologyEvents(this);
  }

  /** A controller that keeps this host converged; call `start()` on it. */
  controller(options?: ControllerOptions): Controller {
    return new Controller(this, options);
  }

  /** Desired state and where the kernel differs from it. */
  async status(): Promise<Status> {
    const state = await this.store.read();
    return { state, drift: await observeDrift({ ip: this.ip, firewall: this.firewall, owner: this.ownerContext() }, state) };
  }

  /**
   * `nftbridge recover`: makes an unreadable state readable again, keeping what can be read (see
   * StateStore.recover); `apply` afterwards converges the kernel to it.
   */
  async recover(): Promise<{ state: State; dropped: string[] }> {
    const release = await this.lock();
    try {
      const result = await this.store.recover();
      this.current = result.state;
      return result;
    } finally {
      await release();
    }
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await Promise.all([this.firewall.close(), this.ip.close(), this.nsIp.close()]);
  }

  // ---- internals -----------------------------------------------------------------------------

  /**
   * Bridges and endpoints that are missing are recreated; what exists is left alone.
   * `recreateNamespaces` (apply): a namespace nftbridge created and the state still has, but that
   * is gone (an interrupted down or disconnect), is made again. The controller leaves it gone: a
   * vanished container is expected there, and its ports wait for it.
   */
  async ensureLinks(state: State, options: { recreateNamespaces?: boolean } = {}): Promise<void> {
    if (options.recreateNamespaces)
      for (const box of state.containers) if (box.created && !(await pathExists(box.netns))) await netnsStep(this.nsIp, box).run();
    // One look at links (with their addresses) and routes, whatever the number of networks.
    const v6 = state.networks.some((n) => n.subnets.some((x) => x.cidr.includes(':')));
    const [addrs, routes4, routes6] = await Promise.all([this.ip.addresses(), this.ip.routes(4), v6 ? this.ip.routes(6) : []]);
    const links = new Map(addrs.map((l) => [l.ifname, l]));
    const routes = new Set([...routes4, ...routes6].map((r) => `${r.dst} ${r.dev ?? ''}`));
    const families = new Set<4 | 6>();
    // A path that names the host's (or our own) namespace now is never acted in.
    const forbidden = forbiddenNamespaces(this.netns);
    for (const net of state.networks) {
      const bridge = links.get(net.bridge);
      if (!bridge) await bridgeStep(this.runner, this.ip, net, this.mark).run();
      else await this.ensureBridgeAddresses(net, bridge, routes);
      for (const x of net.subnets) families.add(parseCidr('subnet', x.cidr).family);
    }
    if (families.size > 0) await forwardingStep(this.runner, this.netns, families).run();
    for (const ep of state.endpoints) {
      const net = findNetwork(state, ep.network);
      const box = state.containers.find((c) => c.name === ep.container);
      const link = links.get(ep.hostIfname);
      if (link) {
        if (link.master !== net.bridge || !link.flags.includes('UP'))
          await this.ip.batch([['link', 'set', ep.hostIfname, 'master', net.bridge, 'up'], bridgePortArgs(net, ep.hostIfname)]);
        continue;
      }
      // The container is gone, or its path names another namespace now: nothing is done there
      // (the controller drops its ports until it returns).
      if (!box || !containerPresent(box) || forbidden.has(nsIdentity(box.netns) ?? '')) continue;
      const cip = new Ip(this.runner, box.netns);
      // A leftover of ours inside (its veth peer lost) is replaced; an interface of the container's own is never touched.
      const inside = await cip.links().catch(() => []);
      if (inside.some((l) => l.ifname === ep.ifname && l.ifalias === this.mark)) await cip.run(['link', 'del', ep.ifname]).catch(() => undefined);
      await vethStep(this.ip, net, ep, box.netns, this.mark).run();
      const hasRoute = state.endpoints.some((e) => e !== ep && e.container === ep.container && !findNetwork(state, e.network).internal);
      await containerStep(cip, net, ep, !net.internal && !hasRoute, this.mark).run();
    }
  }

  /** Gateway addresses, the subnet routes that come with them, and the link state, on an existing bridge. */
  private async ensureBridgeAddresses(net: Network, bridge: LinkAddresses, routes: ReadonlySet<string>): Promise<void> {
    const have = new Set(bridge.addr_info.map((i) => i.local));
    for (const s of net.subnets) {
      const c = parseCidr('subnet', s.cidr);
      if (!have.has(s.gateway)) await this.ip.run(['addr', 'add', `${s.gateway}/${c.prefix}`, 'dev', net.bridge, ...(c.family === 6 ? ['nodad'] : [])]);
      else if (!routes.has(`${s.cidr} ${net.bridge}`))
        await this.ip.run([
          ...(c.family === 6 ? ['-6'] : []),
          'route',
          'replace',
          s.cidr,
          'dev',
          net.bridge,
          'proto',
          'kernel',
          ...(c.family === 4 ? ['scope', 'link', 'src', s.gateway] : ['metric', '256']),
        ]);
    }
    if (!bridge.flags.includes('UP')) await this.ip.run(['link', 'set', net.bridge, 'up']);
  }

  private rebuildStep(before: State, after: State): Step {
    return {
      name: 'firewall',
      detail: `rebuild table ${FAMILY} ${TABLE}`,
      run: async () => void (await this.firewall.rebuild(after)),
      undo: async () => void (before.networks.length > 0 ? await this.firewall.rebuild(before) : await this.firewall.remove()),
    };
  }

  private saveStep(before: State, after: State): Step {
    return {
      name: 'state',
      detail: this.store.file,
      run: async () => {
        await this.store.write(after);
        this.current = after;
      },
      undo: async () => {
        await this.store.write(before);
        this.current = before;
      },
    };
  }

  /** Saves a change of published ports as one journal line (see StateStore.changePorts). */
  private portsStep(before: State, after: State, add: PublishedPort[], remove: PublishedPort[]): Step {
    return {
      name: 'state',
      detail: this.store.journal,
      run: async () => {
        await this.store.changePorts(after, { add, remove });
        this.current = after;
      },
      undo: async () => {
        await this.store.changePorts(before, { add: remove, remove: add });
        this.current = before;
      },
    };
  }

  private removeNetnsStep(box: Container): Step {
    return {
      name: 'netns',
      detail: `delete ${box.name}`,
      run: async () => {
        try {
          await this.nsIp.run(['netns', 'del', box.name]);
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      },
    };
  }

  /** Runs `fn` with the state lock held, so no operation (of this or another process) interleaves. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.lock();
    try {
      return await fn();
    } finally {
      await release();
    }
  }

  /** Serialises operations in this process, then across processes with the state lock. */
  private async lock(): Promise<() => Promise<void>> {
    let releaseLocal!: () => void;
    const mine = new Promise<void>((r) => (releaseLocal = r));
    const previous = this.queue;
    this.queue = previous.then(() => mine);
    await previous.catch(() => undefined);
    try {
      const releaseFile = await this.store.acquire();
      return async () => {
        await releaseFile();
        releaseLocal();
      };
    } catch (err) {
      releaseLocal();
      throw err;
    }
  }

  /** Removes what an interrupted operation left (an intent file exists only when its writer died). */
  async recoverInterrupted(state: State): Promise<void> {
    const intent = this.intents.read();
    if (!intent) return;
    await removeOrphans(this, findOrphans(state, await this.ip.addresses(), this.mark, intent));
    this.intents.clear();
  }

  private orphansStep(state: State): Step {
    const step: Step = {
      name: 'orphans',
      detail: 'none',
      run: async () => {
        const orphans = findOrphans(state, await this.ip.addresses(), this.mark, this.intents.read());
        await removeOrphans(this, orphans);
        this.intents.clear();
        if (orphans.links.length + orphans.netns.length > 0) step.detail = `removed ${[...orphans.links, ...orphans.netns].join(' ')}`;
      },
    };
    return step;
  }

  private op<T>(
    name: string,
    build: (state: State) => Promise<{ steps: Step[]; result: () => T; creates?: Partial<Pick<Intent, 'links' | 'netns'>> }>,
  ): Observable<OperationEvent<T>> {
    return operation(name, async () => {
      const unlock = await this.lock();
      let intent = false;
      const release = async () => {
        // Reached after the state was saved, or after the rollback: nothing is pending any more.
        if (intent) this.intents.clear();
        await unlock();
      };
      try {
        const state = await this.store.read();
        this.current = state;
        await this.recoverInterrupted(state);
        const plan = await build(state);
        if (plan.creates) {
          this.intents.write({ op: name, links: plan.creates.links ?? [], netns: plan.creates.netns ?? [] });
          intent = true;
        }
        return { ...plan, release };
      } catch (err) {
        await release();
        throw err;
      }
    });
  }
}

async function last<T>(ops: Observable<OperationEvent<T>>): Promise<T> {
  const ev = await lastValueFrom(ops);
  if (ev.type !== 'done') throw new NftbridgeError('operation ended without a result');
  return ev.result;
}

export function describePort(p: PublishedPort): string {
  const host = p.hostIp === undefined ? '' : p.hostIp.includes(':') ? `[${p.hostIp}]:` : `${p.hostIp}:`;
  const hp = p.hostPortEnd > p.hostPort ? `${p.hostPort}-${p.hostPortEnd}` : String(p.hostPort);
  const end = p.containerPort + (p.hostPortEnd - p.hostPort);
  const cp = end > p.containerPort ? `${p.containerPort}-${end}` : String(p.containerPort);
  return `${host}${hp}:${cp}/${p.protocol}`;
}
