/** The gate's protocol with the notices script, against a scripted script (no kernel). */
import { describe, expect, it } from 'vitest';
import { NoticeGate } from '../../../src/monitor/notice-gate.js';

/** A script that answers `quiet` and `loud` (when `answers`), and the generations read, in turn. */
function scripted(gens: (number | undefined)[], answers = true) {
  const sent: string[] = [];
  let read = 0;
  const gate = new NoticeGate(async () => gens[read++], 30);
  gate.attach((line) => {
    sent.push(line.trim());
    if (answers && line !== 'lost\n') queueMicrotask(() => gate.heard(line.trim()));
  });
  return { gate, sent, reads: () => read };
}

describe('NoticeGate', () => {
  it('without a script, applies at once and reads nothing', async () => {
    let read = 0;
    const gate = new NoticeGate(async () => ++read);
    expect(await gate.around(async () => 'done')).toBe('done');
    expect(read).toBe(0);
  });

  it('leaves and rejoins around the apply; one commit in the window is the apply itself', async () => {
    const { gate, sent, reads } = scripted([5, 6]);
    const order: string[] = [];
    await gate.around(async () => void order.push(`applied after ${sent.join(',')}`));
    expect(order).toEqual(['applied after quiet']);
    expect(sent).toEqual(['quiet', 'loud']);
    expect(reads()).toBe(2);
  });

  it('reports notices lost when somebody else committed in the window', async () => {
    const { gate, sent } = scripted([5, 7]);
    await gate.around(async () => undefined);
    expect(sent).toEqual(['quiet', 'loud', 'lost']);
  });

  it('reports notices lost when the apply failed, the generation is unknown, or the script did not answer', async () => {
    const failed = scripted([5, 5]);
    await expect(failed.gate.around(async () => Promise.reject(new Error('nft: no')))).rejects.toThrow('nft: no');
    expect(failed.sent).toEqual(['quiet', 'loud', 'lost']);
    const unknown = scripted([undefined, undefined]);
    await unknown.gate.around(async () => undefined);
    expect(unknown.sent).toEqual(['quiet', 'loud', 'lost']);
    const silent = scripted([5, 6], false);
    await silent.gate.around(async () => undefined);
    expect(silent.sent).toEqual(['quiet', 'loud', 'lost']);
  });

  it('runs one apply at a time: the second waits for the first to rejoin', async () => {
    const { gate, sent } = scripted([1, 2, 2, 3]);
    let release: () => void = () => undefined;
    const first = gate.around(() => new Promise<void>((r) => (release = r)));
    const second = gate.around(async () => void sent.push('second'));
    await new Promise((r) => setTimeout(r, 5));
    expect(sent).toEqual(['quiet']);
    release();
    await Promise.all([first, second]);
    expect(sent).toEqual(['quiet', 'loud', 'quiet', 'second', 'loud']);
  });
});
