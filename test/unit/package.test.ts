/** The package as npm users get it: license, metadata, entry points, source maps, the systemd unit. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as main from '../../src/index.js';
import * as lab from '../../src/lab/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (f: string) => readFileSync(`${root}${f}`, 'utf8');
const pkg = JSON.parse(read('package.json')) as Record<string, unknown> & { exports: Record<string, unknown> };

describe('package', () => {
  it('is MIT licensed with a LICENSE file, for Linux only, with npm metadata', () => {
    expect(pkg.license).toBe('MIT');
    expect(read('LICENSE')).toMatch(/^MIT License/);
    expect(pkg.os).toEqual(['linux']);
    expect((pkg.keywords as string[]).length).toBeGreaterThan(3);
    expect(pkg.homepage).toMatch(/^https:\/\//);
  });

  it('keeps the lab and demo helpers off the main entry, on nftbridge/lab', () => {
    expect(Object.keys(pkg.exports).sort()).toEqual(['.', './lab', './package.json']);
    for (const name of ['Lab', 'serve', 'send', 'runDemo', 'SEED', 'seedState', 'UPLINK']) {
      expect(main).not.toHaveProperty(name);
      expect(lab).toHaveProperty(name);
    }
    expect(main).toHaveProperty('Host');
  });

  it('builds the CLI as one file that starts without resolving modules, with a map to the TypeScript', () => {
    const built = `${root}dist/cli/main.js`;
    const text = readFileSync(built, 'utf8');
    expect(text.split('\n')[0]).toBe('#!/usr/bin/env -S node --max-semi-space-size=2');
    // No import of a module of its own: only node: builtins and the native addon (fs-ext) stay outside.
    expect(text.match(/^\s*(?:import|export)\b[^\n]*\bfrom\s*['"]\.{1,2}\//gm)).toBeNull();
    expect(text).not.toContain("from './run.js'");
    const map = JSON.parse(read('dist/cli/main.js.map')) as { sources: string[] };
    expect(map.sources).toContain('../../src/cli/run.ts');
    expect(pkg.bin).toEqual({ nftbridge: 'dist/cli/main.js' });
  });

  it('ships source maps with their sources', () => {
    const ts = JSON.parse(read('tsconfig.json')) as { compilerOptions: Record<string, unknown> };
    expect(ts.compilerOptions.sourceMap).toBe(true);
    expect(ts.compilerOptions.inlineSources).toBe(true);
  });
});

describe('examples/nftbridge-watch.service', () => {
  const unit = read('examples/nftbridge-watch.service');

  it('is hardened and starts nftbridge directly', () => {
    expect(unit).toMatch(/^ExecStart=\/usr\/local\/bin\/nftbridge --json watch$/m);
    expect(unit).not.toContain('/usr/bin/env');
    for (const line of [
      'ProtectSystem=strict',
      'StateDirectory=nftbridge',
      'NoNewPrivileges=yes',
      'CapabilityBoundingSet=CAP_NET_ADMIN CAP_SYS_ADMIN',
    ])
      expect(unit).toContain(line);
  });

  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  it.runIf(analyze.status === 0)('has a systemd-analyze security exposure under 5', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--threshold=49', `${root}examples/nftbridge-watch.service`], {
      encoding: 'utf8',
    });
    const level = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(r.stdout)?.[1]);
    expect(level, r.stdout + r.stderr).toBeLessThan(5);
  });
});
