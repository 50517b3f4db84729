import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { operation, type Step } from '../../../src/ops/operation.js';

function recorder() {
  const log: string[] = [];
  const step = (name: string, fail = false, wait = 0): Step => ({
    name,
    run: async () => {
      if (wait) await new Promise((r) => setTimeout(r, wait));
      if (fail) throw new Error(`${name} failed`);
      log.push(`do ${name}`);
    },
    undo: async () => void log.push(`undo ${name}`),
  });
  return { log, step };
}

describe('observable operations', () => {
  it('emit one event per step, then the result, and complete', async () => {
    const { log, step } = recorder();
    const events = await lastValueFrom(operation('op', async () => ({ steps: [step('a'), step('b')], result: () => 42 })).pipe(toArray()));
    expect(events.map((e) => (e.type === 'step' ? `${e.index + 1}/${e.total} ${e.step}` : e.result))).toEqual(['1/2 a', '2/2 b', 42]);
    expect(log).toEqual(['do a', 'do b']);
  });

  it('roll back the steps already done, in reverse, when a step fails', async () => {
    const { log, step } = recorder();
    let released = false;
    const op = operation('op', async () => ({
      steps: [step('a'), step('b'), step('c', true), step('d')],
      result: () => 0,
      release: async () => void (released = true),
    }));
    await expect(lastValueFrom(op)).rejects.toThrow('c failed');
    expect(log).toEqual(['do a', 'do b', 'undo b', 'undo a']);
    expect(released).toBe(true);
  });

  it('roll back when the subscriber unsubscribes midway', async () => {
    const { log, step } = recorder();
    let released!: () => void;
    const done = new Promise<void>((r) => (released = r));
    const op = operation('op', async () => ({
      steps: [step('a'), step('b', false, 30), step('c')],
      result: () => 0,
      release: async () => released(),
    }));
    const sub = op.subscribe((ev) => {
      if (ev.type === 'step' && ev.step === 'a') setTimeout(() => sub.unsubscribe(), 5);
    });
    await done;
    expect(log).toEqual(['do a', 'do b', 'undo b', 'undo a']);
  });

  it('do nothing when planning (validation) throws', async () => {
    const { log } = recorder();
    await expect(
      lastValueFrom(
        operation('op', async () => {
          throw new Error('bad input');
        }),
      ),
    ).rejects.toThrow('bad input');
    expect(log).toEqual([]);
  });
});
