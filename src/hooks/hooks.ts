/**
 * Typed lifecycle hooks on eventemitter3. A listener that throws is reported through `error` and
 * never reaches the emitter's caller, so one bad subscriber cannot break the pipeline.
 */
import { EventEmitter } from 'eventemitter3';
import type { NftDocument } from '../nft/schema.js';
import type { RulesetEvent, TopologyEvent } from '../monitor/events.js';
import type { Drift } from '../reconcile/drift.js';
import type { Trigger } from '../reconcile/pipeline.js';

export interface DriftReport {
  /** What woke the controller up (coalesced). */
  reasons: Trigger[];
  drift: Drift[];
}

export interface PlanReport extends DriftReport {
  /** Links that will be recreated or re-attached. */
  links: boolean;
  /** The document about to be applied, when the table differs. */
  document?: NftDocument;
}

export interface AppliedReport extends DriftReport {
  durationMs: number;
  document?: NftDocument;
}

export interface ErrorReport {
  /** Where it happened: a source ("ip-monitor", "nft-monitor", …), "converge" or "hook". */
  source: string;
  error: unknown;
  /** For sources being restarted: which attempt comes next, and after how long. */
  attempt?: number;
  retryInMs?: number;
}

export interface HookEvents {
  topology: [TopologyEvent | RulesetEvent];
  drift: [DriftReport];
  plan: [PlanReport];
  applied: [AppliedReport];
  /** A convergence that found nothing to do. */
  idle: [DriftReport];
  error: [ErrorReport];
}

export class Hooks extends EventEmitter<HookEvents> {
  /** Calls each listener in turn; a throwing listener becomes an `error` report. */
  override emit<K extends keyof HookEvents>(event: K, ...args: HookEvents[K]): boolean {
    const listeners = this.listeners(event) as ((...a: HookEvents[K]) => void)[];
    for (const listener of listeners) {
      try {
        listener(...args);
      } catch (error) {
        if (event !== 'error') this.emit('error', { source: 'hook', error });
      }
    }
    return listeners.length > 0;
  }
}
