/**
 * The owned table's events as the perl reads them from the kernel (monitor/nft-notices.ts) must
 * be what `nft -j monitor` says of the same changes, run for run: a rebuild, elements added and
 * deleted, a flush, another table's objects (foreign), another table's elements (none), the
 * bridge family's table of the same name, a deleted table. Where the script cannot run, the
 * monitor falls back to nft.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { firstValueFrom, type Subscription, take, toArray } from 'rxjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultRunner, type Runner } from '../../src/exec/runner.js';
import { Lab } from '../../src/lab/lab.js';
import type { RulesetEvent } from '../../src/monitor/events.js';
import { parseNftMonitorLine } from '../../src/monitor/nft-monitor-parse.js';
import { processLines } from '../../src/monitor/process-lines.js';
import { nftMonitor } from '../../src/monitor/sources.js';
import { describeKernel } from '../helpers/kernel.js';
import { eventually } from '../helpers/wait.js';

/** Each event once per notice it stands for, without the count: what nft -j monitor prints. */
const expand = (events: readonly RulesetEvent[]) => events.flatMap(({ count, ...e }) => Array.from({ length: count ?? 1 }, () => e));

describeKernel('nftables notices read by perl', () => {
  let lab: Lab;
  const subs: Subscription[] = [];
  const byPerl: RulesetEvent[] = [];
  const byNft: RulesetEvent[] = [];
  const nft = (file: string, text: string) => {
    writeFileSync(join(lab.stateDir, file), text);
    execFileSync('nsenter', [`--net=${Lab.path(lab.host)}`, 'nft', '-f', join(lab.stateDir, file)]);
  };

  beforeAll(async () => {
    lab = await Lab.create();
    subs.push(nftMonitor(Lab.path(lab.host), 'inet', 'nftbridge', undefined, defaultRunner).subscribe((e) => byPerl.push(e)));
    subs.push(
      processLines('nft', ['-j', 'monitor'], Lab.path(lab.host)).subscribe((l) => {
        const e = parseNftMonitorLine(l, 'inet', 'nftbridge');
        if (e) byNft.push(e);
      }),
    );
    // Both subscribed: a probe table is seen by both (nft monitor fetches its cache first).
    await eventually(async () => {
      nft('probe.nft', 'add table ip probe\ndelete table ip probe\n');
      await new Promise((r) => setTimeout(r, 100));
      expect(byPerl.some((e) => e.foreign === 'ip probe') && byNft.some((e) => e.foreign === 'ip probe')).toBe(true);
    });
    await new Promise((r) => setTimeout(r, 200));
    byPerl.length = 0;
    byNft.length = 0;
  });
  afterAll(async () => {
    for (const s of subs) s.unsubscribe();
    await lab?.destroy();
  });

  it("says what nft -j monitor says, with a run of one set's elements as one event with a count", async () => {
    const elements = Array.from({ length: 300 }, (_, i) => `tcp . ${10000 + i} : 10.0.0.${(i % 200) + 2}`).join(', ');
    nft(
      'rebuild.nft',
      `table inet nftbridge {
  set bridges { type ifname; elements = { "nb-a", "nb-b" }; }
  map pub4 { type inet_proto . inet_service : ipv4_addr; elements = { ${elements} }; }
  chain prerouting { type nat hook prerouting priority dstnat; meta l4proto tcp dnat ip to meta l4proto . th dport map @pub4; }
  chain forward { type filter hook forward priority -200; iifname @bridges accept; }
}
table bridge nftbridge {
  set spoof4 { type ifname . ipv4_addr; elements = { "v1" . 10.0.0.2 }; }
}
`,
    );
    nft('elements.nft', 'delete element inet nftbridge pub4 { tcp . 10000 }\nadd element inet nftbridge bridges { "nb-c" }\n');
    // Another table: its table, chains and rules are foreign; its sets and elements are nobody's business.
    nft(
      'foreign.nft',
      'table inet filter {\n  set ban { type ipv4_addr; elements = { 192.0.2.1 }; }\n  chain input { type filter hook input priority 0; ip saddr @ban drop; }\n}\n',
    );
    nft('ban.nft', 'add element inet filter ban { 192.0.2.2 }\n');
    nft('flush.nft', 'flush chain inet nftbridge forward\n');
    nft('delete.nft', 'delete table inet nftbridge\ndelete table bridge nftbridge\ndelete table inet filter\n');
    await eventually(() => {
      expect(expand(byPerl)).toEqual(byNft);
      expect(byNft.filter((e) => e.action === 'delete' && e.object === 'table' && !e.foreign)).toHaveLength(2);
    });
    const runs = byPerl.filter((e) => e.object === 'element' && e.name === 'pub4' && e.action === 'add');
    expect(runs.reduce((n, e) => n + (e.count ?? 1), 0)).toBe(300);
    expect(runs.length).toBeLessThan(30);
    expect(byPerl.some((e) => e.foreign === 'inet filter' && e.object === 'rule')).toBe(true);
    expect(byPerl.some((e) => e.object === 'map' && e.name === 'pub4')).toBe(true);
    expect(byPerl.some((e) => e.name === 'ban')).toBe(false);
  });

  it('falls back to nft -j monitor where the script cannot run', async () => {
    const started: string[] = [];
    // A perl that ends at once, as one without the socket would (a missing perl fails to spawn).
    const broken: Pick<Runner, 'spawn'> = {
      spawn: (command, argv, options) => {
        started.push(command);
        return command === 'perl' ? defaultRunner.spawn('perl', ['-e', 'exit 2'], options) : defaultRunner.spawn(command, argv, options);
      },
    };
    const seen = firstValueFrom(nftMonitor(Lab.path(lab.host), 'inet', 'nftbridge', undefined, broken).pipe(take(1), toArray()));
    await eventually(async () => {
      expect(started).toEqual(['perl', 'nft']);
      nft('again.nft', 'add table inet nftbridge\ndelete table inet nftbridge\n');
      await new Promise((r) => setTimeout(r, 100));
      expect(await Promise.race([seen, new Promise((r) => setTimeout(() => r(undefined), 10))])).toEqual([
        { type: 'ruleset', action: 'add', object: 'table', name: 'nftbridge' },
      ]);
    });
  });
});
