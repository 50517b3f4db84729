/**
 * The controller: one object owning one pipeline. Sources (ip monitor, nft monitor, /run/netns, the
 * state file, a periodic resync) are coalesced, then the kernel is converged to the desired state.
 */
import { asyncScheduler, map, merge, share, Subject, tap, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { FAMILY, TABLE } from '../firewall/names.js';
import { Hooks } from '../hooks/hooks.js';
import type { HostContext } from '../ops/context.js';
import type { RulesetEvent, TopologyEvent } from '../monitor/events.js';
import type { ChildInfo } from '../monitor/process-lines.js';
import { NoticeGate } from '../monitor/notice-gate.js';
import { ipMonitor, netnsEvents, nftMonitor, stateFileChanges } from '../monitor/sources.js';
import { firewalldSignals } from '../hostfw/signals.js';
import { converge, type ConvergeResult } from './converge.js';
import { convergeLoop, resilient, resync, type BackoffOptions, type Trigger } from './pipeline.js';

export interface ControllerOptions {
  /** Window in which events are gathered into one convergence (default 20 ms). */
  coalesceMs?: number;
  /** Period of the full resync safety net (default 30 s). */
  resyncMs?: number;
  /** Restart delays of a failed monitor (default 100 ms doubling to 5 s). */
  backoff?: BackoffOptions;
  scheduler?: SchedulerLike;
  /** Directory of named namespaces to watch (default /run/netns). */
  netnsDir?: string;
}

export class Controller {
  readonly hooks = new Hooks();
  private subscription: Subscription | undefined;
  private readonly children = new Map<number, ChildInfo>();
  /** The convergence running now, so stop() can let it finish: nothing is reported after stop(). */
  private inFlight: Promise<void> | undefined;
  private readonly results = new Subject<ConvergeResult>();
  /** Every convergence, as it finishes. */
  readonly converged$: Observable<ConvergeResult> = this.results.asObservable();
  private readonly opts: Required<Omit<ControllerOptions, 'scheduler'>> & { scheduler: SchedulerLike };

  constructor(
    readonly host: HostContext,
    options: ControllerOptions = {},
  ) {
    this.opts = {
      coalesceMs: options.coalesceMs ?? 20,
      resyncMs: options.resyncMs ?? 30_000,
      backoff: options.backoff ?? { baseMs: 100, maxMs: 5000 },
      scheduler: options.scheduler ?? asyncScheduler,
      netnsDir: options.netnsDir ?? '/run/netns',
    };
  }

  get running(): boolean {
    return this.subscription !== undefined;
  }

  /** The monitor processes alive now. */
  get childProcesses(): { pid: number; command: string }[] {
    return [...this.children.values()].map(({ pid, command }) => ({ pid, command }));
  }

  /** Starts watching and converging; calling it again while running does nothing. */
  start(): void {
    if (this.subscription) return;
    const { scheduler, backoff } = this.opts;
    const track = (c: ChildInfo) => {
      this.children.set(c.pid, c);
      void c.exited.finally(() => this.children.delete(c.pid));
    };
    const guard = <T>(name: string, factory: () => Observable<T>) =>
      resilient(name, factory, {
        backoff,
        scheduler,
        onError: (error, attempt, retryInMs) => this.hooks.emit('error', { source: name, error, attempt, retryInMs }),
      });
    // The daemon leaves the kernel's nftables notices while it loads a big document of its own.
    const gate = new NoticeGate(() => this.host.firewall.generationNow());
    this.host.firewall.nft.gate = gate;
    const isTrigger = (e: unknown): e is Trigger => typeof e === 'object' && e !== null && 'source' in e;
    const events = (name: string, source: Observable<TopologyEvent | RulesetEvent | Trigger>): Observable<Trigger> =>
      source.pipe(
        tap((e) => {
          if (!isTrigger(e)) this.hooks.emit('topology', e);
        }),
        map((e) =>
          isTrigger(e)
            ? e
            : e.type === 'ruleset' && e.foreign
              ? { source: 'host-firewall', detail: e.foreign }
              : e.type === 'ruleset' && e.action === 'delete' && e.object === 'table'
                ? { source: name, detail: 'table deleted', urgent: true }
                : { source: name, detail: e.type },
        ),
      );
    const triggers = merge(
      events(
        'ip-monitor',
        guard('ip-monitor', () => ipMonitor(this.host.runner, this.host.netns, track)),
      ),
      events(
        'nft-monitor',
        guard('nft-monitor', () => nftMonitor(this.host.netns, FAMILY, TABLE, track, this.host.runner, gate)),
      ),
      events(
        'netns',
        guard('netns', () => netnsEvents(this.opts.netnsDir)),
      ),
      guard('firewalld', () =>
        firewalldSignals(this.host.hostFirewall, scheduler).pipe(map((detail): Trigger => ({ source: 'firewalld', detail }))),
      ),
      guard('state', () => stateFileChanges(this.host.store.file, this.host.store.journal).pipe(map((): Trigger => ({ source: 'state' })))),
      resync(this.opts.resyncMs, scheduler),
    ).pipe(share());
    const run = (batch: Trigger[]) => {
      const p = converge(this.host, this.hooks, batch);
      this.inFlight = p.then(
        () => undefined,
        () => undefined,
      );
      return p;
    };
    this.subscription = convergeLoop(triggers, run, {
      coalesceMs: this.opts.coalesceMs,
      scheduler,
      onError: (error) => this.hooks.emit('error', { source: 'converge', error }),
    }).subscribe((r) => this.results.next(r));
  }

  /** Stops everything and waits until no monitor process is left; idempotent. */
  async stop(): Promise<void> {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.host.firewall.nft.gate = undefined;
    await Promise.all([...this.children.values()].map((c) => c.exited));
    await this.inFlight;
  }
}

/** Topology and ruleset events of a host, for any program to subscribe to (starts its own monitors). */
export function topologyEvents(
  host: Pick<HostContext, 'runner' | 'netns'>,
  netnsDir = '/run/netns',
): Observable<TopologyEvent | RulesetEvent> {
  return merge(
    ipMonitor(host.runner, host.netns),
    nftMonitor(host.netns, FAMILY, TABLE, undefined, host.runner),
    netnsEvents(netnsDir),
  ).pipe(share());
}

/** A type guard for `filter`: `host.events$().pipe(filter(isKind('link')))`. */
export const isKind =
  <K extends (TopologyEvent | RulesetEvent)['type']>(kind: K) =>
  (e: TopologyEvent | RulesetEvent): e is Extract<TopologyEvent | RulesetEvent, { type: K }> =>
    e.type === kind;
