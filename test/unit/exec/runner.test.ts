import { describe, expect, it } from 'vitest';
import { CHILD_ENV, envOf, inNetns } from '../../../src/exec/runner.js';

describe('child environments', () => {
  it("nft runs with glibc's fast bins off, after whatever tunables the caller set; other commands as they were", () => {
    const nft = envOf('nft') as Record<string, string>;
    expect(nft.GLIBC_TUNABLES?.split(':').at(-1)).toBe('glibc.malloc.mxfast=0');
    expect(nft.PATH).toBe(CHILD_ENV.PATH);
    expect(nft.LC_ALL).toBe('C');
    expect(envOf('ip')).toBe(CHILD_ENV);
    expect(envOf('perl')).not.toHaveProperty('GLIBC_TUNABLES');
  });

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
