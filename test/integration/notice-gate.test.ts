/**
 * The watch daemon leaves the kernel's nftables notices while it loads a big document of its own
 * (monitor/notice-gate.ts): that load is not echoed, notices flow again after it, and a commit by
 * somebody else inside the window is reported as notices lost, so the daemon looks at everything.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subscription } from 'rxjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultRunner } from '../../src/exec/runner.js';
import { Lab } from '../../src/lab/lab.js';
import type { RulesetEvent } from '../../src/monitor/events.js';
import { NoticeGate } from '../../src/monitor/notice-gate.js';
import { nftMonitor } from '../../src/monitor/sources.js';
import { RulesetGeneration } from '../../src/nft/generation.js';
import { describeKernel } from '../helpers/kernel.js';
import { eventually } from '../helpers/wait.js';

describeKernel('leaving the nftables notices during a big load', () => {
  let lab: Lab;
  let sub: Subscription | undefined;
  let generation: RulesetGeneration;
  let gate: NoticeGate;
  const seen: RulesetEvent[] = [];
  const nft = (file: string, text: string) => {
    writeFileSync(join(lab.stateDir, file), text);
    execFileSync('nsenter', [`--net=${Lab.path(lab.host)}`, 'nft', '-f', join(lab.stateDir, file)]);
  };
  const probe = async (name: string) =>
    eventually(async () => {
      nft(`${name}.nft`, `add table ip ${name}\ndelete table ip ${name}\n`);
      await new Promise((r) => setTimeout(r, 50));
      expect(seen.some((e) => e.foreign === `ip ${name}`)).toBe(true);
    });
  const elements = (n: number) => Array.from({ length: n }, (_, i) => `${10000 + i} : 10.0.${i >> 8}.${(i % 250) + 2}`).join(', ');

  beforeAll(async () => {
    lab = await Lab.create();
    generation = new RulesetGeneration(Lab.path(lab.host), defaultRunner);
    gate = new NoticeGate(() => generation.read());
    sub = nftMonitor(Lab.path(lab.host), 'inet', 'nftbridge', undefined, defaultRunner, gate).subscribe((e) => seen.push(e));
    await probe('ready');
  });
  afterAll(async () => {
    sub?.unsubscribe();
    await generation?.close();
    await lab?.destroy();
  });

  it('a load inside the gate is not echoed; notices flow again after it', async () => {
    // Outside the gate the same kind of load is seen, element runs included.
    nft(
      'outside.nft',
      `table inet nftbridge {\n  map pub4_tcp_addr { type inet_service : ipv4_addr; elements = { ${elements(500)} }; }\n}\n`,
    );
    await eventually(() => expect(seen.some((e) => e.object === 'element' && e.name === 'pub4_tcp_addr')).toBe(true));
    nft('clear.nft', 'delete table inet nftbridge\n');
    await probe('between');
    seen.length = 0;
    await gate.around(async () =>
      nft(
        'inside.nft',
        `table inet nftbridge {\n  map pub4_tcp_addr { type inet_service : ipv4_addr; elements = { ${elements(3000)} }; }\n}\n`,
      ),
    );
    await probe('after');
    expect(seen.filter((e) => !e.foreign)).toEqual([]);
    expect(seen.some((e) => e.action === 'lost')).toBe(false);
    nft('clear2.nft', 'delete table inet nftbridge\n');
    await eventually(() => expect(seen.some((e) => e.action === 'delete' && e.object === 'table' && !e.foreign)).toBe(true));
  });

  it("reports notices lost when somebody else's commit fell in the window", async () => {
    seen.length = 0;
    await gate.around(async () => {
      nft('own.nft', 'add table inet nftbridge\n');
      nft('theirs.nft', 'add table inet filter\n');
    });
    await eventually(() => expect(seen.some((e) => e.action === 'lost')).toBe(true));
    // The other table's notice itself was not heard: the lost report is what tells of it.
    expect(seen.some((e) => e.foreign === 'inet filter')).toBe(false);
    await probe('again');
    nft('clear3.nft', 'delete table inet nftbridge\ndelete table inet filter\n');
  });
});
