/**
 * Observable operations: a list of steps run in order, one progress event per step, and a rollback
 * of the steps already done, in reverse, when a step fails or the subscriber unsubscribes midway.
 */
import { Observable } from 'rxjs';
import { RollbackError, TeardownError } from '../errors.js';

export interface Step {
  /** Short machine-friendly name: "create-bridge", "veth", … */
  name: string;
  /** What the step did, for people: "bridge nb-demo 172.18.0.1/24". */
  detail?: string;
  run(): Promise<void>;
  undo?(): Promise<void>;
  /**
   * The step makes several changes and its undo removes only what is provably its own: run the
   * undo also when the step itself fails midway, so its partial work goes too.
   */
  undoOnFailure?: boolean;
}

export type OperationEvent<T> =
  | { type: 'step'; operation: string; step: string; detail?: string; index: number; total: number }
  | { type: 'done'; operation: string; result: T };

export interface OperationPlan<T> {
  steps: Step[];
  result: () => T;
  /** Runs last whatever happened (releasing a lock, say). */
  release?: () => Promise<void>;
  /** Teardown: every step runs even when one fails; the failures end it as one TeardownError. */
  bestEffort?: boolean;
}

/** Runs undo functions newest first; teardown is best effort, so every error is collected. */
export async function rollback(done: readonly Step[]): Promise<unknown[]> {
  const errors: unknown[] = [];
  for (const step of [...done].reverse()) {
    try {
      await step.undo?.();
    } catch (err) {
      errors.push(err);
    }
  }
  return errors;
}

/**
 * `plan` runs on subscription (validation included), so a cold Observable does nothing until
 * subscribed, and a plan that throws has done nothing that needs undoing.
 */
export function operation<T>(name: string, plan: () => Promise<OperationPlan<T>>): Observable<OperationEvent<T>> {
  return new Observable<OperationEvent<T>>((subscriber) => {
    let cancelled = false;
    let finished = false;
    const done: Step[] = [];
    void (async () => {
      let release: (() => Promise<void>) | undefined;
      try {
        const p = await plan();
        release = p.release;
        const { steps, result } = p;
        const failures: { step: string; error: unknown }[] = [];
        for (const [index, step] of steps.entries()) {
          if (cancelled) break;
          try {
            await step.run();
          } catch (err) {
            if (!p.bestEffort) {
              if (step.undoOnFailure) done.push(step);
              throw err;
            }
            failures.push({ step: step.detail ? `${step.name} ${step.detail}` : step.name, error: err });
            continue;
          }
          done.push(step);
          subscriber.next({
            type: 'step',
            operation: name,
            step: step.name,
            ...(step.detail ? { detail: step.detail } : {}),
            index,
            total: steps.length,
          });
        }
        if (failures.length > 0) throw new TeardownError(failures);
        if (cancelled) {
          await rollback(done);
          await release?.();
          return;
        }
        finished = true;
        const value = result();
        await release?.();
        subscriber.next({ type: 'done', operation: name, result: value });
        subscriber.complete();
      } catch (err) {
        // A best-effort teardown is not rolled back: what it removed stays removed.
        const undoErrors = err instanceof TeardownError ? [] : await rollback(done);
        await release?.().catch(() => undefined);
        // netavark keeps every teardown error: the failure, and whatever undoing it met.
        subscriber.error(undoErrors.length > 0 ? new RollbackError(err, undoErrors) : err);
      }
    })();
    return () => {
      if (!finished) cancelled = true;
    };
  });
}
