/**
 * No process outlives its owner: after a kill -9 of `watch` (monitors, long-lived ip and nft
 * sessions, a spare `nft -j -f FIFO` waiting for its next document), every child is gone.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Host } from '../../src/index.js';
import { Lab } from '../../src/lab/lab.js';
import { CLI } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';
import { alive, childrenOf, eventually } from '../helpers/wait.js';

const commandOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
};
/** Running, not a zombie waiting for its new parent to reap it. */
const running = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return alive(pid) && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

describeKernel('no process outlives its owner', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await Lab.create();
    const host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
    await host.createNetwork({ name: 'n', subnet: '10.88.0.0/24' });
    await host.connect('n', lab.name('c'));
    // Enough ports that a rebuild is past the session's size and goes to a spare nft -f FIFO.
    await host.publish(
      'n',
      lab.name('c'),
      Array.from({ length: 80 }, (_, i) => `${20000 + i}:80`),
    );
    await host.firewall.remove();
    await host.close();
  });
  afterAll(async () => {
    const host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
    await host.down().catch(() => undefined);
    await host.close();
    await lab?.destroy();
  });

  it('kill -9 of watch leaves no child behind (monitors, sessions, the spare nft)', async () => {
    const watch = spawn(process.execPath, [CLI, '--netns', lab.host, '--state-dir', lab.stateDir, '--json', 'watch'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: watch.stdout });
    const applied = new Promise<void>((resolve) =>
      lines.on('line', (l) => (JSON.parse(l) as { type: string }).type === 'applied' && resolve()),
    );
    try {
      await applied; // the table was rebuilt: through the spare path, which starts the next spare
      const children = await eventually(() => {
        const pids = childrenOf(watch.pid ?? -1);
        const commands = pids.map(commandOf);
        expect(
          commands.some((c) => / -j -f .*\.fifo/.test(c)),
          commands.join('\n'),
        ).toBe(true); // the spare
        expect(commands.some((c) => c.includes('monitor'))).toBe(true);
        return pids;
      });
      expect(children.length).toBeGreaterThanOrEqual(3);
      watch.kill('SIGKILL');
      await eventually(() => expect(children.filter(running).map((p) => `${p} ${commandOf(p)}`)).toEqual([]), 5000);
    } finally {
      watch.kill('SIGKILL');
    }
  });
});
