import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMonitorLine } from '../../../src/monitor/ip-monitor-parse.js';
import { parseNftMonitorLine } from '../../../src/monitor/nft-monitor-parse.js';
import { parseNftNotice } from '../../../src/monitor/nft-notices.js';

// Captured on this kernel: bridge and veth created, addresses and routes added, then all deleted.
const ipLines = readFileSync(new URL('../../fixtures/ip-monitor.txt', import.meta.url), 'utf8')
  .split('\n')
  .filter(Boolean);
const nftLines = readFileSync(new URL('../../fixtures/nft-monitor.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter(Boolean);

describe('ip -o -d monitor label parser (real output)', () => {
  const events = ipLines.map(parseMonitorLine);

  it('parses every captured line', () => {
    expect(events.every((e) => e !== undefined)).toBe(true);
  });

  it('reads links with kind, master, state and flags, and their deletion', () => {
    expect(events[0]).toEqual({
      type: 'link',
      action: 'upserted',
      index: 2,
      name: 'br0',
      kind: 'bridge',
      state: 'DOWN',
      flags: ['BROADCAST', 'MULTICAST'],
    });
    const enslaved = events.find((e) => e?.type === 'link' && e.name === 'v1' && e.master === 'br0');
    expect(enslaved).toMatchObject({ index: 3, kind: 'veth', master: 'br0' });
    const deleted = events.filter((e) => e?.type === 'link' && e.action === 'deleted').map((e) => e?.type === 'link' && e.name);
    // "Deleted v1@br0" is the bridge-port notification of `nomaster`, not a deletion.
    expect(deleted).toEqual(['br0', 'v1']);
  });

  it('reads addresses of both families, added and deleted', () => {
    const addrs = events.filter((e) => e?.type === 'address');
    expect(addrs[0]).toEqual({ type: 'address', action: 'added', index: 2, ifname: 'br0', family: 4, address: '10.1.0.1', prefixlen: 24 });
    expect(addrs).toContainEqual({
      type: 'address',
      action: 'added',
      index: 2,
      ifname: 'br0',
      family: 6,
      address: 'fd00::1',
      prefixlen: 64,
    });
    expect(addrs).toContainEqual({
      type: 'address',
      action: 'deleted',
      index: 2,
      ifname: 'br0',
      family: 4,
      address: '10.1.0.1',
      prefixlen: 24,
    });
  });

  it('reads routes with type, destination, device, gateway and table', () => {
    const routes = events.filter((e) => e?.type === 'route');
    expect(routes).toContainEqual({
      type: 'route',
      action: 'added',
      routeType: 'unicast',
      dst: 'default',
      dev: 'br0',
      gateway: '10.1.0.6',
      table: 'main',
    });
    expect(routes).toContainEqual({ type: 'route', action: 'deleted', routeType: 'local', dst: '10.1.0.1', dev: 'br0', table: 'local' });
  });

  it('ignores lines that are not records', () => {
    expect(parseMonitorLine('')).toBeUndefined();
    expect(parseMonitorLine('[NEIGH]10.0.0.1 dev eth0 lladdr 00:11:22:33:44:55 REACHABLE')).toBeUndefined();
    expect(parseMonitorLine('[LINK]garbage')).toBeUndefined();
  });
});

describe('nft -j monitor parser (real output)', () => {
  const events = nftLines.map((l) => parseNftMonitorLine(l, 'inet', 'nftbridge')).filter((e) => e !== undefined);

  it('keeps every event about the owned table: a rebuild, an element, a flush, a deletion', () => {
    expect(events.length).toBe(nftLines.length);
    expect(events[0]).toEqual({ type: 'ruleset', action: 'add', object: 'table', name: 'nftbridge' });
    expect(events.filter((e) => e.action === 'delete' && e.object === 'table')).toHaveLength(2); // flush ruleset, delete table
  });

  it("marks other tables' tables, chains and rules as foreign, drops their sets and elements, and flags unparseable lines about the table", () => {
    expect(parseNftMonitorLine('{"add": {"table": {"family": "ip", "name": "nftbridge"}}}', 'inet', 'nftbridge')).toEqual({
      type: 'ruleset',
      action: 'add',
      object: 'table',
      foreign: 'ip nftbridge',
    });
    expect(parseNftMonitorLine('{"add": {"rule": {"family": "inet", "table": "filter", "chain": "x"}}}', 'inet', 'nftbridge')).toEqual({
      type: 'ruleset',
      action: 'add',
      object: 'rule',
      foreign: 'inet filter',
    });
    // fail2ban's bans and firewalld's ipsets come and go all day: not a reason to look.
    expect(
      parseNftMonitorLine('{"add": {"element": {"family": "inet", "table": "f2b", "name": "ban", "elem": [1]}}}', 'inet', 'nftbridge'),
    ).toBeUndefined();
    expect(parseNftMonitorLine('{"add": {"table": {"family": "arp", "name": "x"}}}', 'inet', 'nftbridge')).toBeUndefined();
    expect(
      parseNftMonitorLine('{"add": {"set": {"family": "inet", "table": "nftbridge", "name": "x", "elem": [???', 'inet', 'nftbridge'),
    ).toEqual({
      type: 'ruleset',
      action: 'unknown',
      object: 'unknown',
    });
    // An element line is read from its head: what nft printed after it (garbage for some interval
    // elements in 1.0.6) does not matter.
    expect(
      parseNftMonitorLine(
        '{"add": {"element": {"family": "inet", "table": "nftbridge", "name": "pub4_port", "elem": [???',
        'inet',
        'nftbridge',
      ),
    ).toEqual({ type: 'ruleset', action: 'add', object: 'element', name: 'pub4_port' });
  });

  it('reads an element line from its head exactly as a whole parse would', () => {
    const elements = nftLines.filter((l) => l.includes('"element"'));
    expect(elements.length).toBeGreaterThan(0);
    for (const line of elements) {
      const [action, objects] = Object.entries(JSON.parse(line) as Record<string, { element: { name: string } }>)[0] ?? [];
      expect(parseNftMonitorLine(line, 'inet', 'nftbridge')).toEqual({
        type: 'ruleset',
        action,
        object: 'element',
        name: objects?.element.name,
      });
    }
    const bridge = '{"delete": {"element": {"family": "bridge", "table": "nftbridge", "name": "spoof4", "elem": {"set": ["x"]}}}}';
    expect(parseNftMonitorLine(bridge, 'inet', 'nftbridge')).toEqual({
      type: 'ruleset',
      action: 'delete',
      object: 'element',
      name: 'spoof4',
    });
    const other = '{"add": {"element": {"family": "ip", "table": "nftbridge", "name": "s", "elem": {"set": ["x"]}}}}';
    expect(parseNftMonitorLine(other, 'inet', 'nftbridge')).toBeUndefined();
  });
});

describe('nft notices parser (monitor/nft-notices.ts lines)', () => {
  const hex = (s: string) => Buffer.from(s).toString('hex');
  const line = (action: string, object: string, family: string, table: string, name: string | undefined, count: number) =>
    `N ${action} ${object} ${family} ${hex(table)} ${name === undefined ? '-' : hex(name)} ${count}`;

  it("reads the owned table's events, with a count for a run, as the nft -j monitor parser would", () => {
    expect(parseNftNotice(line('add', 'element', 'inet', 'nftbridge', 'pub4_tcp_addr', 300), 'inet', 'nftbridge')).toEqual({
      type: 'ruleset',
      action: 'add',
      object: 'element',
      name: 'pub4_tcp_addr',
      count: 300,
    });
    expect(parseNftNotice(line('delete', 'table', 'inet', 'nftbridge', 'nftbridge', 1), 'inet', 'nftbridge')).toEqual({
      type: 'ruleset',
      action: 'delete',
      object: 'table',
      name: 'nftbridge',
    });
    // A rule has no name; the anti-spoofing table is the bridge family's of the same name.
    expect(parseNftNotice(line('add', 'rule', 'inet', 'nftbridge', undefined, 2), 'inet', 'nftbridge')).toEqual({
      type: 'ruleset',
      action: 'add',
      object: 'rule',
      count: 2,
    });
    expect(parseNftNotice(line('delete', 'element', 'bridge', 'nftbridge', 'spoof4', 1), 'inet', 'nftbridge')).toMatchObject({
      object: 'element',
      name: 'spoof4',
    });
  });

  it("marks other tables' tables, chains and rules as foreign, drops their sets and elements, and reports lost notices as anybody's", () => {
    expect(parseNftNotice(line('add', 'rule', 'inet', 'firewalld', undefined, 40), 'inet', 'nftbridge')).toEqual({
      type: 'ruleset',
      action: 'add',
      object: 'rule',
      foreign: 'inet firewalld',
      count: 40,
    });
    expect(parseNftNotice(line('add', 'table', 'ip', 'nftbridge', 'nftbridge', 1), 'inet', 'nftbridge')).toMatchObject({
      foreign: 'ip nftbridge',
    });
    expect(parseNftNotice(line('add', 'element', 'inet', 'f2b', 'ban', 3), 'inet', 'nftbridge')).toBeUndefined();
    expect(parseNftNotice(line('add', 'set', 'inet', 'f2b', 'ban', 1), 'inet', 'nftbridge')).toBeUndefined();
    expect(parseNftNotice(line('add', 'table', 'arp', 'x', 'x', 1), 'inet', 'nftbridge')).toBeUndefined();
    expect(parseNftNotice('O', 'inet', 'nftbridge')).toEqual({ type: 'ruleset', action: 'lost', object: 'unknown', foreign: 'unknown' });
    expect(parseNftNotice('ready', 'inet', 'nftbridge')).toBe('ready');
    expect(parseNftNotice('something else', 'inet', 'nftbridge')).toBeUndefined();
  });
});
