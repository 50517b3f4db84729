import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NamespaceCache, type NamespaceProbe } from '../../../src/ip/netns.js';

let dir: string;
let asked: string[];
let ids: Map<string, string>;
const probe: NamespaceProbe = {
  identity: (p) => {
    asked.push(p);
    return ids.get(p);
  },
  isNamespace: () => true,
};
const file = (...parts: string[]) => {
  const p = join(dir, ...parts);
  writeFileSync(p, '');
  ids.set(p, `4:${ids.size + 1}`);
  return p;
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nscache-'));
  asked = [];
  ids = new Map();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('NamespaceCache: namespace paths kept while no mount at or above them changed', () => {
  it('answers again from what it learned, and asks anew for paths at or under a mount point that changed', () => {
    mkdirSync(join(dir, 'netns'));
    const a = file('netns', 'a');
    const b = file('netns', 'b');
    const cache = new NamespaceCache(probe);
    const first = [cache.view.identity(a), cache.view.identity(b)];
    ids.set(a, '4:99'); // another namespace at the path: only a mount does that
    expect([cache.view.identity(a), cache.view.identity(b)]).toEqual(first);
    expect(asked).toHaveLength(2);
    cache.forget([a]);
    expect(cache.view.identity(a)).toBe('4:99');
    expect(cache.view.identity(b)).toBe(first[1]);
    expect(asked).toEqual([a, b, a]);
    // A mount over the directory (a tmpfs over /run/netns, say) hides every path under it.
    cache.forget([join(dir, 'netns')]);
    cache.view.identity(b);
    cache.forget([`${join(dir, 'net')}`]); // a sibling with a common prefix is not a parent
    cache.view.identity(b);
    cache.forget('all');
    cache.view.identity(a);
    expect(asked).toEqual([a, b, a, b, a]);
  });

  it('a mount point above kept paths forgets them all, including the root; one beside them forgets nothing', () => {
    mkdirSync(join(dir, 'netns'));
    const a = file('netns', 'a');
    const b = file('netns', 'b');
    const cache = new NamespaceCache(probe);
    const both = () => [a, b].map((p) => cache.view.identity(p));
    both();
    cache.forget([join(dir, 'netns', 'c'), join(dir, 'other')]); // a container coming, a mount elsewhere
    both();
    expect(asked).toEqual([a, b]);
    cache.forget([dir]); // a grandparent
    both();
    cache.forget(['/']);
    both();
    expect(asked).toEqual([a, b, a, b, a, b]);
  });

  it('keeps nothing for /proc paths, paths through a symlink, and paths that are gone', () => {
    const real = file('real');
    const link = join(dir, 'link');
    symlinkSync(real, link);
    const gone = join(dir, 'gone');
    for (const p of [link, '/proc/self/ns/net']) ids.set(p, '4:9');
    const cache = new NamespaceCache(probe);
    for (let i = 0; i < 2; i++) for (const p of [link, '/proc/self/ns/net', gone]) cache.view.identity(p);
    expect(asked).toEqual([link, '/proc/self/ns/net', gone, link, '/proc/self/ns/net', gone]);
  });
});
