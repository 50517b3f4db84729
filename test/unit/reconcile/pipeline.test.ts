import { type Observable, take, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { backoffDelay, coalesce, convergeLoop, resilient, resync, type Trigger, oneRunTrailing } from '../../../src/reconcile/pipeline.js';
import { Hooks } from '../../../src/hooks/hooks.js';

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('controller pipeline (marbles)', () => {
  it('coalesces a burst into one batch, measured from the first event', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const src = cold('-a-b-c------d--|');
      expectObservable(src.pipe(coalesce(3, ts))).toBe('----x---y------(z|)', { x: ['a', 'b'], y: ['c'], z: ['d'] });
    });
  });

  it('ends a batch at an urgent trigger, which is in it; the rest of the burst makes the next batch, and no batch is empty', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const src = cold('-a-U-c------d--|');
      expectObservable(src.pipe(coalesce(3, ts, (t) => t === 'U'))).toBe('---x----y------(z|)', { x: ['a', 'U'], y: ['c'], z: ['d'] });
      const alone = cold('-U------|');
      expectObservable(alone.pipe(coalesce(3, ts, (t) => t === 'U'))).toBe('-x------|', { x: ['U'] });
    });
  });

  it('resyncs periodically', () => {
    const ts = scheduler();
    ts.run(({ expectObservable }) => {
      const r: Trigger = { source: 'resync' };
      expectObservable(resync(10, ts).pipe(take(3))).toBe('10ms r 9ms r 9ms (r|)', { r });
    });
  });

  it('restarts a failed source with exponential backoff, announcing each restart, and resets after success', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const runs = [cold('-a#'), cold('#'), cold('#'), cold('-b#'), cold('-c---')];
      let i = 0;
      const errors: [number, number][] = [];
      const out = resilient('mon', () => runs[i++] ?? cold('-'), {
        backoff: { baseMs: 2, maxMs: 10 },
        scheduler: ts,
        onError: (_e, attempt, ms) => errors.push([attempt, ms]),
      });
      const R: Trigger = { source: 'restart', detail: 'mon' };
      // a at 1, error at 2; +2 -> restart at 4 (error); +4 -> restart at 8 (error); +8 -> restart at 16, b at 17,
      // error at 18 after a success: backoff starts over, +2 -> restart at 20, c at 21.
      expectObservable(out, '^ 30ms !').toBe('-a--R---R-------Rb--Rc', { a: 'a', b: 'b', c: 'c', R });
      ts.flush();
      expect(errors).toEqual([
        [1, 2],
        [2, 4],
        [3, 8],
        [1, 2],
      ]);
    });
  });

  it('treats a source that completes as failed and restarts it', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      let i = 0;
      const out = resilient('w', () => (i++ === 0 ? cold('-a|') : cold('-b')), {
        backoff: { baseMs: 1, maxMs: 1 },
        scheduler: ts,
        onError: () => undefined,
      });
      expectObservable(out, '^ 10ms !').toBe('-a-Rb', { a: 'a', b: 'b', R: { source: 'restart', detail: 'w' } });
    });
  });

  it('starts with one convergence, runs one per coalesced batch, and survives a failing one', () => {
    const ts = scheduler();
    ts.run(({ hot, cold, expectObservable }) => {
      const triggers = hot<Trigger>('----ab-----c-------d', {
        a: { source: 'x' },
        b: { source: 'bad' },
        c: { source: 'y' },
        d: { source: 'z' },
      });
      const errors: unknown[] = [];
      const converge = (batch: Trigger[]): Observable<string> => {
        const names = batch.map((t) => t.source).join('+');
        return names.includes('bad') ? throwError(() => new Error('boom')) : cold('-(r|)', { r: names });
      };
      const out = convergeLoop(triggers, converge, { coalesceMs: 2, scheduler: ts, onError: (e) => errors.push(e) });
      // start at 0 -> batch at 2, result at 3; a+b (4..6) fails; c at 11 -> 13 -> 14; d at 19 -> 21 -> 22.
      expectObservable(out, '^ 25ms !').toBe('---s----------y-------z', { s: 'start', y: 'y', z: 'z' });
      ts.flush();
      expect(errors).toHaveLength(1);
    });
  });

  it('backoff doubles up to its cap', () => {
    expect([1, 2, 3, 4, 5, 10].map((n) => backoffDelay(n, { baseMs: 100, maxMs: 1000 }))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
});

describe('hooks', () => {
  it('a listener that throws is reported through error and the others still run', () => {
    const hooks = new Hooks();
    const seen: string[] = [];
    const errors: unknown[] = [];
    hooks.on('idle', () => {
      throw new Error('listener bug');
    });
    hooks.on('idle', () => void seen.push('second'));
    hooks.on('error', (e) => void errors.push(e));
    expect(() => hooks.emit('idle', { reasons: [], drift: [] })).not.toThrow();
    expect(seen).toEqual(['second']);
    expect(errors).toEqual([{ source: 'hook', error: new Error('listener bug') }]);
  });

  it('a throwing error listener does not loop or escape', () => {
    const hooks = new Hooks();
    hooks.on('error', () => {
      throw new Error('again');
    });
    hooks.on('idle', () => {
      throw new Error('first');
    });
    let second = 0;
    hooks.on('idle', () => void second++);
    expect(() => hooks.emit('idle', { reasons: [], drift: [] })).not.toThrow();
    expect(second).toBe(1);
  });
});

describe('one run at a time, with one trailing run', () => {
  it('merges the batches that arrive during a run into one run after it', () => {
    const ts = scheduler();
    ts.run(({ hot, cold, expectObservable }) => {
      // A run takes 5 frames. b and c arrive while a runs: one run of b+c follows it at once;
      // d arrives during that one and runs after it.
      const batches = hot<string[]>('a-b-c-d---------', { a: ['a'], b: ['b'], c: ['c'], d: ['d'] });
      const out = batches.pipe(oneRunTrailing((batch) => cold('-----(r|)', { r: batch.join('+') })));
      expectObservable(out).toBe('-----a----x----y', { a: 'a', x: 'b+c', y: 'd' });
    });
  });
});
