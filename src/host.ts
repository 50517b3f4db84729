/**
 * The public entry point: one host (the current network namespace, or a named one), its desired
 * state on disk, and the operations that move the kernel to it. Each operation is a plan built
 * from the state (ops/*-plans.ts) run as an observable operation under the state lock.
 */
import { basename } from 'node:path';
import { lastValueFrom, type Observable } from 'rxjs';
import { NftbridgeError, NotFoundError, StateFileError } from './errors.js';
import { pathExists } from './exec/path-exists.js';
import { defaultRunner, type Runner } from './exec/runner.js';
import { Firewall } from './firewall/firewall.js';
import { FAMILY, TABLE } from './firewall/names.js';
import { Ip } from './ip/ip.js';
import { kernelNamespaces, type NamespaceProbe } from './ip/netns.js';
import type { RulesetEvent, TopologyEvent } from './monitor/events.js';
import { NftClient } from './nft/client.js';
import type { NftDocument } from './nft/schema.js';
import { ownerOf, type HostContext, type HostPlan } from './ops/context.js';
import { ConnectGroups } from './ops/connect-group.js';
import { connectPlan, disconnectPlan } from './ops/endpoint-plans.js';
import { applyPlan, downPlan, markLegacyLinks, recoverInterrupted } from './ops/host-plans.js';
import { createNetworkPlan, removeNetworkPlan } from './ops/network-plans.js';
import { operation, type OperationEvent } from './ops/operation.js';
import { ownerMark } from './ops/ownership.js';
import { publishPlan, unpublishPlan } from './ops/port-plans.js';
import { Controller, topologyEvents, type ControllerOptions } from './reconcile/controller.js';
import type { Drift } from './reconcile/drift.js';
import { observeDrift } from './reconcile/observe.js';
import { IntentLog } from './topology/intent.js';
import { checkContainerName, netnsPath, type ConnectInput, type CreateNetworkInput } from './topology/plan.js';
import type { Endpoint, Network, PublishedPort, State } from './topology/state.js';
import { StateStore } from './topology/store.js';
import { hostFirewallDrift, hostFirewallOptions } from './hostfw/options.js';
import { HostFirewall, type HostFirewallMode, type HostFirewallReport } from './hostfw/host-firewall.js';
import { FileScanMemo } from './hostfw/scan-memo.js';

export { describePort } from './topology/publish-spec.js';

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
  /** How namespaces are looked at: the kernel's nsfs by default; a fake's in tests without a kernel. */
  namespaces?: NamespaceProbe;
  /**
   * The host firewall integration (README "Host firewalls"): 'auto' (default) detects firewalld,
   * ufw and other tables' drop policies and lets nftbridge's traffic through them; 'off' leaves
   * every other table and firewalld alone and marks nothing. Default $NFTBRIDGE_HOST_FIREWALL.
   */
  hostFirewall?: HostFirewallMode;
  /** The mask of the per-network packet marks; default $NFTBRIDGE_MARK_MASK or 0xff000000. */
  markMask?: number;
  /** The D-Bus system bus where firewalld is looked for; default $DBUS_SYSTEM_BUS_ADDRESS or the standard socket. */
  systemBus?: string;
}

export interface Status {
  state: State;
  drift: Drift[];
  /** The host firewalls found and nftbridge's integration with them. */
  hostFirewall: HostFirewallReport;
}

export const DEFAULT_STATE_DIR = '/var/lib/nftbridge';

export class Host implements HostContext {
  readonly ip: Ip;
  readonly nsIp: Ip;
  readonly nft: NftClient;
  readonly firewall: Firewall;
  readonly mark: string;
  readonly intents: IntentLog;
  readonly hostFirewall: HostFirewall;
  /** Operations started (subscribed) so far: a connect joins a group only if none started since it. */
  private started = 0;
  private readonly groups = new ConnectGroups(this, {
    run: (build) => last(this.op('connect', build)),
    alone: (c) => last(this.connect$(c.network, c.container, c.input)),
    started: () => this.started,
  });

  private constructor(
    readonly runner: Runner,
    /** Path of the host namespace, or undefined for the current one. */
    readonly netns: string | undefined,
    readonly store: StateStore,
    /** Why the state could not be read when the Host was opened, if it could not. */
    private readonly openError: StateFileError | undefined,
    readonly namespaces: NamespaceProbe,
    hostFirewall: { mode: HostFirewallMode; mask: number; env?: NodeJS.ProcessEnv },
  ) {
    // Long-lived ip and nft processes start without the runner; a runner of one's own (to log,
    // or to script a test) sees every command only if none are used.
    const persistent = runner === defaultRunner;
    this.ip = new Ip(runner, netns, persistent);
    this.nsIp = netns === undefined ? this.ip : new Ip(runner, undefined, persistent);
    this.nft = new NftClient(runner, FAMILY, TABLE, netns, persistent);
    this.firewall = new Firewall(this.nft, { markMask: hostFirewall.mode === 'off' ? null : hostFirewall.mask });
    this.hostFirewall = new HostFirewall(this.nft, { ...hostFirewall, netns }, new FileScanMemo(store.hostFirewallFile));
    this.mark = ownerMark(store.file);
    this.intents = new IntentLog(store.intentFile);
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
    const openError = await store.read().then(
      () => undefined,
      (err: unknown) => {
        if (err instanceof StateFileError) return err;
        throw err;
      },
    );
    return new Host(options.runner ?? defaultRunner, path, store, openError, options.namespaces ?? kernelNamespaces, {
      ...hostFirewallOptions(options),
      ...(options.systemBus !== undefined ? { env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: options.systemBus } } : {}),
    });
  }

  /** The desired state, once the operations this process has in flight (rollbacks included) are over. */
  async state(): Promise<State> {
    await this.store.settled();
    return this.store.read();
  }

  /**
   * The nftables JSON document for the desired state as this Host last saw it (at open, or after
   * its last operation); nothing is applied. `await host.state()` first to pick up other processes' changes.
   */
  ruleset(): NftDocument {
    const state = this.store.lastKnown();
    if (!state) throw this.openError ?? new NftbridgeError('the state has not been read');
    // A copy: the Firewall keeps its last document to apply it again.
    return structuredClone(this.firewall.render(state));
  }

  // ---- Observable forms: cold, one event per step, rollback on error or unsubscribe ----------

  createNetwork$(input: CreateNetworkInput): Observable<OperationEvent<Network>> {
    return this.op('create-network', (state) => createNetworkPlan(this, state, input));
  }
  connect$(network: string, container: string, input: ConnectInput = {}): Observable<OperationEvent<Endpoint>> {
    return this.op('connect', (state) => connectPlan(this, state, network, container, input));
  }
  publish$(network: string, container: string, specs: readonly string[]): Observable<OperationEvent<PublishedPort[]>> {
    return this.op('publish', (state) => publishPlan(this, state, network, container, specs));
  }
  unpublish$(network: string, container: string, specs: readonly string[]): Observable<OperationEvent<PublishedPort[]>> {
    return this.op('unpublish', (state) => unpublishPlan(this, state, network, container, specs));
  }
  disconnect$(network: string, container: string): Observable<OperationEvent<Endpoint>> {
    return this.op('disconnect', (state) => disconnectPlan(this, state, network, container));
  }
  removeNetwork$(name: string): Observable<OperationEvent<Network>> {
    return this.op('remove-network', (state) => removeNetworkPlan(this, state, name));
  }
  /** Converges the kernel to the desired state; running it twice changes nothing the second time. */
  apply$(): Observable<OperationEvent<NftDocument>> {
    return this.op('apply', (state) => applyPlan(this, state));
  }
  /** Removes everything nftbridge made in this host (best effort; what it could not remove is reported). */
  down$(): Observable<OperationEvent<State>> {
    return this.op('down', (state) => downPlan(this, state));
  }

  // ---- Promise forms: the last value of each Observable --------------------------------------

  createNetwork(input: CreateNetworkInput): Promise<Network> {
    return last(this.createNetwork$(input));
  }
  /** Calls made while others wait for the lock commit together (ops/connect-group.ts). */
  connect(network: string, container: string, input: ConnectInput = {}): Promise<Endpoint> {
    return this.groups.join({ network, container, input });
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

  /** Desired state and where the kernel differs from it (orphans of interrupted operations included). */
  async status(): Promise<Status> {
    const state = await this.store.read();
    const [drift, hostFirewall] = await Promise.all([
      observeDrift({ ip: this.ip, firewall: this.firewall, namespaces: this.namespaces, owner: ownerOf(this) }, state),
      this.hostFirewall.observe(state),
    ]);
    return { state, drift: [...drift, ...hostFirewallDrift(hostFirewall)], hostFirewall };
  }

  /**
   * `nftbridge recover`: makes an unreadable state readable again, keeping what can be read (see
   * StateStore.recover); `apply` afterwards converges the kernel to it.
   */
  recover(): Promise<{ state: State; dropped: string[] }> {
    return this.store.exclusive(() => this.store.recover());
  }

  async close(): Promise<void> {
    await this.store.settled();
    await this.hostFirewall.persist().catch(() => undefined);
    this.hostFirewall.close();
    await Promise.all([this.firewall.close(), this.ip.close(), this.nsIp.close()]);
  }

  /**
   * Runs a plan as an observable operation: the lock is taken on subscription, what an interrupted
   * operation left is removed, the plan's intent is written before its first step and cleared once
   * the state was saved or the rollback is over.
   */
  private op<T>(name: string, build: (state: State) => HostPlan<T> | Promise<HostPlan<T>>): Observable<OperationEvent<T>> {
    return operation(name, async () => {
      this.started++;
      const unlock = await this.store.acquire();
      let intent = false;
      const release = async () => {
        if (intent) this.intents.clear();
        await unlock();
      };
      try {
        const state = await markLegacyLinks(this, await this.store.read());
        await recoverInterrupted(this, state);
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
