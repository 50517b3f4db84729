import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultRunner } from '../../src/index.js';
import { BatchError, Ip } from '../../src/ip/ip.js';
import { Lab } from '../../src/lab/lab.js';
import { describeKernel } from '../helpers/kernel.js';

describeKernel('changes through a long-lived ip -batch behave like one-shot ip', () => {
  let lab: Lab;
  let ip: Ip;
  let nsIp: Ip;
  const links = () =>
    JSON.parse(execFileSync('ip', ['-n', lab.host, '-j', 'link', 'show'], { encoding: 'utf8' })) as {
      ifname: string;
      master?: string;
      operstate: string;
    }[];

  beforeAll(async () => {
    lab = await Lab.create();
    ip = new Ip(defaultRunner, Lab.path(lab.host), true);
    nsIp = new Ip(defaultRunner, undefined, true);
  });
  afterAll(async () => {
    await ip?.close();
    await nsIp?.close();
    await lab?.destroy();
  });

  it('a batch stops at its first failure and names the line', async () => {
    const err = await ip
      .batch([
        ['link', 'add', 'sb0', 'type', 'bridge'],
        ['link', 'set', 'nosuch0', 'master', 'sb0'],
        ['link', 'set', 'sb0', 'up'],
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchError);
    expect((err as BatchError).line).toBe(1);
    expect((err as BatchError).message).toMatch(/nosuch0/);
    // The line after the failure did not run.
    expect(links().find((l) => l.ifname === 'sb0')?.operstate).toBe('DOWN');
  });

  it('a bridge somebody else deleted and re-created under the same name is found again', async () => {
    await ip.batch([
      ['link', 'add', 'sv0', 'type', 'veth', 'peer', 'name', 'sv1'],
      ['link', 'set', 'sv0', 'master', 'sb0'],
    ]);
    execFileSync('ip', ['-n', lab.host, 'link', 'del', 'sb0']);
    execFileSync('ip', ['-n', lab.host, 'link', 'add', 'sb0', 'type', 'bridge']);
    // The session's name cache still holds the old index; the retry in a fresh session finds the new one.
    await ip.batch([
      ['link', 'set', 'sv0', 'master', 'sb0', 'up'],
      ['addr', 'add', '10.61.0.1/24', 'dev', 'sb0'],
    ]);
    expect(links().find((l) => l.ifname === 'sv0')?.master).toBe('sb0');
    expect(execFileSync('ip', ['-n', lab.host, '-o', 'addr', 'show', 'dev', 'sb0'], { encoding: 'utf8' })).toContain('10.61.0.1/24');
  });

  it("a genuine error is reported with ip's message after the retry", async () => {
    await expect(ip.run(['link', 'add', 'sb0', 'type', 'bridge'])).rejects.toThrow(/File exists/);
  });

  it('long-lived readers see links, addresses and routes made after they started', async () => {
    expect((await ip.links()).map((l) => l.ifname)).toContain('sb0');
    execFileSync('ip', ['-n', lab.host, 'link', 'add', 'sb1', 'type', 'bridge']);
    execFileSync('ip', ['-n', lab.host, 'addr', 'add', '10.62.0.1/24', 'dev', 'sb1']);
    execFileSync('ip', ['-n', lab.host, 'addr', 'add', 'fd62::1/64', 'dev', 'sb1', 'nodad']);
    execFileSync('ip', ['-n', lab.host, 'link', 'set', 'sb1', 'up']);
    expect((await ip.links()).find((l) => l.ifname === 'sb1')?.linkinfo?.info_kind).toBe('bridge');
    expect(
      (await ip.addresses())
        .find((a) => a.ifname === 'sb1')
        ?.addr_info.filter((a) => a.scope !== 'link')
        .map((a) => a.local)
        .sort(),
    ).toEqual(['10.62.0.1', 'fd62::1']);
    expect((await ip.routes(4)).find((r) => r.dst === '10.62.0.0/24')?.dev).toBe('sb1');
    expect((await ip.routes(6)).find((r) => r.dst === 'fd62::/64')?.dev).toBe('sb1');
    execFileSync('ip', ['-n', lab.host, 'link', 'del', 'sb1']);
    expect((await ip.links()).map((l) => l.ifname)).not.toContain('sb1');
    expect((await ip.routes(4)).map((r) => r.dst)).not.toContain('10.62.0.0/24');
  });

  it('a session whose namespace was deleted fails, instead of changing a namespace nobody sees', async () => {
    const name = lab.name('ghost');
    execFileSync('ip', ['netns', 'add', name]);
    const ghost = new Ip(defaultRunner, Lab.path(name), true);
    try {
      await ghost.run(['link', 'set', 'lo', 'up']);
      expect((await ghost.links()).map((l) => l.ifname)).toEqual(['lo']);
      execFileSync('ip', ['netns', 'del', name]);
      await expect(ghost.run(['link', 'add', 'gb0', 'type', 'bridge'])).rejects.toThrow(/network namespace/);
      await expect(ghost.links()).rejects.toThrow(/network namespace/);
    } finally {
      await ghost.close();
    }
  });

  it("namespaces created through the current namespace's session are visible to everybody", async () => {
    const name = lab.name('sess');
    await nsIp.run(['netns', 'add', name]);
    try {
      expect(existsSync(Lab.path(name))).toBe(true);
      // A namespace mounted only inside the session's own mount namespace would fail here.
      execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    } finally {
      await nsIp.run(['netns', 'del', name]);
    }
    expect(existsSync(Lab.path(name))).toBe(false);
  });
});
