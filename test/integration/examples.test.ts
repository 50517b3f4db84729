import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { describeKernel } from '../helpers/kernel.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describeKernel('examples', () => {
  it('examples/seed.ts type-checks and runs the seed end to end', () => {
    const tsc = spawnSync(`${root}node_modules/.bin/tsc`, ['-p', 'examples/tsconfig.json'], { cwd: root, encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr).toBe('');
    const r = spawnSync(`${root}node_modules/.bin/tsx`, ['examples/seed.ts'], { cwd: root, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('ns2 -> ns1: answered by ns1, which saw 172.18.0.3');
    expect(r.stdout).toContain('ns1 -> outside (masquerade): answered by outside, which saw 192.0.2.1');
    expect(r.stdout).toContain('outside -> published port: answered by ns1, which saw 192.0.2.2');
    expect(r.stdout).toContain('host -> its own published port: answered by ns1');
    expect(r.stdout).toContain('drift: none');
  });
});
