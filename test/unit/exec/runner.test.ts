import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { childEnv, defaultRunner, inNetns } from '../../../src/exec/runner.js';

describe('entering a namespace', () => {
  it('ip enters a named namespace itself; anything else, and a path that is no name, through nsenter', () => {
    expect(inNetns('ip', ['link'], '/run/netns/h1')).toEqual(['ip', ['-n', 'h1', 'link']]);
    expect(inNetns('nft', ['list', 'ruleset'], '/run/netns/h1')).toEqual([
      'nsenter',
      ['--net=/run/netns/h1', '--', 'nft', 'list', 'ruleset'],
    ]);
    expect(inNetns('ip', ['link'], '/proc/42/ns/net')).toEqual(['nsenter', ['--net=/proc/42/ns/net', '--', 'ip', 'link']]);
    expect(inNetns('ip', ['link'])).toEqual(['ip', ['link']]);
  });
});

describe("a child's environment", () => {
  it('nft gets a huge-page heap, added to tunables of the caller and never overriding a hugetlb of theirs; nothing else gets it', () => {
    expect(childEnv('nft', undefined).GLIBC_TUNABLES).toBe('glibc.malloc.hugetlb=1');
    expect(childEnv('nft', 'glibc.malloc.arena_max=2').GLIBC_TUNABLES).toBe('glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1');
    expect(childEnv('nft', 'glibc.malloc.hugetlb=0').GLIBC_TUNABLES).toBeUndefined();
    expect(childEnv('ip', undefined).GLIBC_TUNABLES).toBeUndefined();
    expect(childEnv('nft', undefined)).toMatchObject({ LC_ALL: 'C' });
    // nft -i reads and writes $HOME/.nft.history: never the caller's.
    expect(childEnv('nft', undefined).HOME).toBe('/dev/null');
    expect(childEnv('nft', 'glibc.malloc.hugetlb=0').HOME).toBe('/dev/null');
    expect(childEnv('ip', undefined).HOME).toBeUndefined();
  });

  it('reaches the nft the runner starts (setpriv execs it in place, so the PID is nft)', async () => {
    const child = defaultRunner.spawn('nft', ['-j', '-i'], { stdin: 'pipe' });
    try {
      const pid = child.pid ?? 0;
      // Until setpriv has exec'd nft.
      for (let i = 0; i < 200 && !readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('nft'); i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]).toBe('nft');
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      expect(environ).toContain('GLIBC_TUNABLES=glibc.malloc.hugetlb=1');
      // The caller's HOME is replaced, not added to (execa extends the environment).
      expect(environ.filter((v) => v.startsWith('HOME='))).toEqual(['HOME=/dev/null']);
    } finally {
      child.kill();
      await child;
    }
  });
});
