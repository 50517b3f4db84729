import { describe, expect, it } from 'vitest';
import { inNetns } from '../../../src/exec/runner.js';

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
