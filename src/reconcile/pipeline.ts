/**
 * The controller's pipeline as pure RxJS, every timing operator on an injected scheduler so that
 * marble tests drive it: resilient sources, coalescing, one convergence at a time, errors as values.
 */
import {
  auditTime,
  buffer,
  catchError,
  concat,
  connect,
  defer,
  EMPTY,
  filter,
  from,
  interval,
  map,
  merge,
  of,
  retry,
  tap,
  timer,
  Observable,
  type Subscription,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs';

export interface Trigger {
  source: string;
  detail?: string;
  /**
   * Converge now, without waiting out the window for the rest of a burst (nftbridge's own table
   * deleted: every network is down until the repair). What follows in the burst makes the next batch.
   */
  urgent?: boolean;
}

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export const backoffDelay = (attempt: number, { baseMs, maxMs }: BackoffOptions) => Math.min(baseMs * 2 ** (attempt - 1), maxMs);

/**
 * A source that is resubscribed with exponential backoff when it errors or completes, reporting
 * each failure; after a restart it first emits a `restart` trigger so a full resync follows.
 * The retries have no bound on purpose: a watch daemon that gave up on its monitors would stop
 * repairing for good, while the periodic resync keeps converging meanwhile; the backoff caps the
 * cost at one restart every `maxMs`, and every failure reaches the hooks.
 */
export function resilient<T>(
  name: string,
  factory: () => Observable<T>,
  opts: { backoff: BackoffOptions; scheduler: SchedulerLike; onError: (error: unknown, attempt: number, retryInMs: number) => void },
): Observable<T | Trigger> {
  let runs = 0;
  // Failures in a row; only a real event from the source (not the restart marker) resets it.
  let failures = 0;
  return defer(() => {
    const restarted = runs++ > 0;
    const events = factory().pipe(tap(() => (failures = 0)));
    // A source that completes has stopped watching: treat it like a crash.
    const endless = concat(
      events,
      defer(() => {
        throw new Error(`${name} ended`);
      }),
    );
    return restarted ? concat(of<Trigger>({ source: 'restart', detail: name }), endless) : endless;
  }).pipe(
    retry({
      delay: (error: unknown) => {
        const ms = backoffDelay(++failures, opts.backoff);
        opts.onError(error, failures, ms);
        return timer(ms, opts.scheduler);
      },
    }),
  );
}

/**
 * Collects triggers for `windowMs` after the first one of a burst, then emits them as one batch;
 * an `urgent` one ends its batch at once (the window's end then finds nothing, and emits nothing).
 */
export function coalesce<T>(windowMs: number, scheduler: SchedulerLike, urgent: (t: T) => boolean = () => false): OperatorFunction<T, T[]> {
  return (source) =>
    source.pipe(
      // buffer subscribes to the source before the notifier: an urgent trigger is in the batch it ends.
      connect((shared) => shared.pipe(buffer(merge(shared.pipe(auditTime(windowMs, scheduler)), shared.pipe(filter(urgent)))))),
      filter((batch) => batch.length > 0),
    );
}

/** A trigger every `periodMs`: the safety net that catches whatever the monitors missed. */
export function resync(periodMs: number, scheduler: SchedulerLike): Observable<Trigger> {
  return interval(periodMs, scheduler).pipe(map(() => ({ source: 'resync' })));
}

/**
 * One run at a time, and what arrives meanwhile becomes one trailing run: batches that queued up
 * behind a slow convergence are merged, not run one after another (each would look at the same
 * kernel again).
 */
export function oneRunTrailing<T, R>(project: (batch: T[]) => Observable<R>): OperatorFunction<T[], R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      let running = false;
      let ended = false;
      let pending: T[] | undefined;
      let inner: Subscription | undefined;
      const start = (batch: T[]) => {
        running = true;
        inner = project(batch).subscribe({
          next: (v) => subscriber.next(v),
          error: (e: unknown) => subscriber.error(e),
          complete: () => {
            running = false;
            const next = pending;
            pending = undefined;
            if (next) start(next);
            else if (ended) subscriber.complete();
          },
        });
      };
      const outer = source.subscribe({
        next: (batch) => {
          if (running) pending = [...(pending ?? []), ...batch];
          else start(batch);
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => {
          ended = true;
          if (!running) subscriber.complete();
        },
      });
      return () => {
        outer.unsubscribe();
        inner?.unsubscribe();
      };
    });
}

/**
 * Triggers in, convergences out: coalesced batches, one convergence at a time (later batches
 * merged into one trailing run), and a failing convergence reported and skipped, never ending
 * the pipeline.
 */
export function convergeLoop<R>(
  triggers: Observable<Trigger>,
  converge: (batch: Trigger[]) => Promise<R> | Observable<R>,
  opts: { coalesceMs: number; scheduler: SchedulerLike; onError: (error: unknown) => void },
): Observable<R> {
  return merge(of<Trigger>({ source: 'start' }), triggers).pipe(
    coalesce(opts.coalesceMs, opts.scheduler, (t) => t.urgent === true),
    oneRunTrailing((batch) =>
      defer(() => from(converge(batch))).pipe(
        catchError((error: unknown) => {
          opts.onError(error);
          return EMPTY;
        }),
      ),
    ),
  );
}
