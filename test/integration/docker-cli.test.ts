/**
 * What `docker network` / `docker port` users reach for first, through the built CLI: labels,
 * inspect, ls -q and --filter, rm of several, prune, port, JSON errors, `status --json`, and
 * `watch --type` with a time on every line.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Lab } from '../../src/lab/lab.js';
import { CLI, cli, cliOk } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';

describeKernel('the CLI as Docker users expect it', () => {
  let lab: Lab;
  let g: string[];
  let c1: string;

  beforeAll(async () => {
    lab = await Lab.create();
    g = ['--netns', lab.host, '--state-dir', lab.stateDir];
    c1 = lab.name('c1');
    cliOk([...g, 'network', 'create', 'web', '--subnet', '10.71.0.0/24', '--subnet', 'fd71::/64', '--label', 'team=a', '--label', 'tier']);
    cliOk([...g, 'network', 'create', 'db', '--subnet', '10.72.0.0/24', '--label', 'team=b']);
    cliOk([...g, 'network', 'create', 'spare1', '--subnet', '10.73.0.0/24']);
    cliOk([...g, 'network', 'create', 'spare2', '--subnet', '10.74.0.0/24']);
    cliOk([...g, 'connect', 'web', c1, '--ip', '10.71.0.5']);
    cliOk([...g, 'publish', 'web', c1, '8080:80', '127.0.0.1:5353:53/udp', '9000-9001:9000-9001']);
  });
  afterAll(async () => {
    cli([...(g ?? []), 'down']);
    await lab?.destroy();
  });

  it('network inspect: a JSON array, one object per network, with its containers', () => {
    const [web] = JSON.parse(cliOk([...g, 'network', 'inspect', 'web'])) as Record<string, unknown>[];
    expect(web).toMatchObject({
      name: 'web',
      bridge: 'nb-web',
      subnets: [
        { subnet: '10.71.0.0/24', gateway: '10.71.0.1' },
        { subnet: 'fd71::/64', gateway: 'fd71::1' },
      ],
      internal: false,
      icc: true,
      mtu: null,
      labels: { team: 'a', tier: '' },
      created: expect.stringMatching(/^\d{4}-/) as unknown as string,
    });
    const c = (web?.containers as Record<string, Record<string, unknown>> | undefined)?.[c1];
    expect(c).toMatchObject({ ifname: 'eth0', mac: '02:42:0a:47:00:05', ipv4: '10.71.0.5/24', ipv6: 'fd71::2/64' });
    expect(c?.ports).toEqual(['8080:80/tcp', '127.0.0.1:5353:53/udp', '9000-9001:9000-9001/tcp']);
    // The MAC nftbridge recorded is the one the container has.
    expect(execFileSync('ip', ['-n', c1, '-j', 'link', 'show', 'eth0'], { encoding: 'utf8' })).toContain('"address":"02:42:0a:47:00:05"');
    expect(JSON.stringify(JSON.parse(cliOk([...g, 'network', 'inspect', 'web', 'db'])).map((n: { name: string }) => n.name))).toBe(
      '["web","db"]',
    );
    const none = cli([...g, 'network', 'inspect', 'web', 'nope']);
    expect([none.status, none.stdout, none.stderr.trim()]).toEqual([1, '', 'nftbridge: network: no network named "nope"']);
  });

  it('network ls -q and --filter name=/label=', () => {
    expect(
      cliOk([...g, 'network', 'ls', '-q'])
        .trim()
        .split('\n'),
    ).toEqual(['web', 'db', 'spare1', 'spare2']);
    expect(
      cliOk([...g, 'network', 'ls', '-q', '--filter', 'name=spare'])
        .trim()
        .split('\n'),
    ).toEqual(['spare1', 'spare2']);
    expect(
      cliOk([...g, 'network', 'ls', '-q', '-f', 'label=team'])
        .trim()
        .split('\n'),
    ).toEqual(['web', 'db']);
    expect(cliOk([...g, 'network', 'ls', '-q', '--filter', 'label=team=b']).trim()).toBe('db');
    expect(cli([...g, 'network', 'ls', '--filter', 'driver=bridge']).status).toBe(2);
  });

  it('port: Docker format, and the host side of one port', () => {
    expect(
      cliOk([...g, 'port', c1])
        .trim()
        .split('\n'),
    ).toEqual([
      '80/tcp -> 0.0.0.0:8080',
      '80/tcp -> [::]:8080',
      '53/udp -> 127.0.0.1:5353',
      '9000/tcp -> 0.0.0.0:9000',
      '9000/tcp -> [::]:9000',
      '9001/tcp -> 0.0.0.0:9001',
      '9001/tcp -> [::]:9001',
    ]);
    expect(cliOk([...g, 'port', c1, '53/udp']).trim()).toBe('127.0.0.1:5353');
    expect(cli([...g, 'port', c1, '81']).status).toBe(2);
  });

  it('graph: the topology as Graphviz dot and as a Mermaid flowchart', () => {
    const dot = cliOk([...g, 'graph']);
    expect(dot).toMatch(/^digraph nftbridge \{/);
    for (const part of ['"br_nb-web"', 'uplink0 192.0.2.1/24', `"c_${c1}"`, '8080:80/tcp', 'shape=box3d']) expect(dot).toContain(part);
    expect(dot.trim().endsWith('}')).toBe(true);
    const mermaid = cliOk([...g, 'graph', '--format', 'mermaid']);
    expect(mermaid).toMatch(/^flowchart LR\n/);
    expect(mermaid).toContain('br_nb_web["nb-web (web) 10.71.0.1/24 fd71::1/64"]');
    expect(cli([...g, 'graph', '--format', 'svg']).status).toBe(2);
  });

  it('status draws each bridge with its ports and the containers behind them', () => {
    const out = cliOk([...g, 'status']);
    expect(out).toMatch(new RegExp(`nb-web\\s+web\\s+10\\.71\\.0\\.0/24,fd71::/64\\s+veth\\w+ -> ${c1}:eth0 10\\.71\\.0\\.5`));
    expect(out).toContain('drift: none');
  });

  it('completion: bash completes commands, network names and containers from the state', () => {
    const script = cliOk(['completion', 'bash']);
    expect(spawnSync('bash', ['-n'], { input: script }).status).toBe(0);
    const complete = (line: string[]) => {
      const words = line.map((w) => `'${w}'`).join(' ');
      const sh = `nftbridge() { NFTBRIDGE_NETNS=${lab.host} NFTBRIDGE_STATE_DIR=${lab.stateDir} ${process.execPath} ${CLI} "$@"; }\n${script}\nCOMP_WORDS=(${words}); COMP_CWORD=${line.length - 1}; _nftbridge; echo "\${COMPREPLY[*]}"`;
      return spawnSync('bash', ['-c', sh], { encoding: 'utf8' }).stdout.trim().split(' ');
    };
    expect(complete(['nftbridge', 'netw'])).toEqual(['network']);
    expect(complete(['nftbridge', 'network', 'r'])).toEqual(['rm']);
    expect(complete(['nftbridge', 'connect', ''])).toContain('web');
    expect(complete(['nftbridge', 'port', ''])).toEqual([c1]);
    for (const shell of ['zsh', 'fish']) expect(cliOk(['completion', shell])).toContain('nftbridge completion --list networks');
  });

  it('network rm takes several names; prune --force removes every network with no endpoint', () => {
    cliOk([...g, 'network', 'create', 'gone1', '--subnet', '10.75.0.0/24']);
    cliOk([...g, 'network', 'create', 'gone2', '--subnet', '10.76.0.0/24']);
    cliOk([...g, 'network', 'rm', 'gone1', 'gone2']);
    expect(
      cliOk([...g, 'network', 'prune', '--force'])
        .trim()
        .split('\n'),
    ).toEqual(['db', 'spare1', 'spare2']);
    expect(cliOk([...g, 'network', 'ls', '-q']).trim()).toBe('web');
  });

  it('network prune without --force asks on a terminal: "n" keeps the networks, "y" removes them', () => {
    cliOk([...g, 'network', 'create', 'ask1', '--subnet', '10.74.0.0/24']);
    // A real terminal: script(1) runs the CLI on a pty and passes our answer through it.
    const onTty = (answer: string) =>
      spawnSync('script', ['-qec', [process.execPath, CLI, ...g, 'network', 'prune'].map((w) => `'${w}'`).join(' '), '/dev/null'], {
        input: `${answer}\n`,
        encoding: 'utf8',
      });
    const no = onTty('n');
    expect(no.status).toBe(0);
    expect(no.stdout).toContain('Are you sure you want to continue? [y/N]');
    expect(
      cliOk([...g, 'network', 'ls', '-q'])
        .trim()
        .split('\n'),
    ).toContain('ask1');
    const yes = onTty('y');
    expect(yes.status).toBe(0);
    expect(yes.stdout).toMatch(/^ask1\r?$/m);
    expect(
      cliOk([...g, 'network', 'ls', '-q'])
        .trim()
        .split('\n'),
    ).not.toContain('ask1');
  });

  it('with --json an error is one JSON object on stderr, and the exit codes stay', () => {
    const r = cli([...g, '--json', 'network', 'create', 'x', '--subnet', '127.0.0.0/24']);
    expect(r.status).toBe(2);
    expect(JSON.parse(r.stderr)).toEqual({
      error: {
        field: 'subnet',
        reason: expect.stringMatching(/is loopback/) as unknown as string,
        message: expect.any(String) as unknown as string,
      },
    });
    const typo = cli([...g, '--json', 'netwrok']);
    expect(typo.status).toBe(2);
    expect((JSON.parse(typo.stderr) as { error: { field: string } }).error.field).toBe('command');
  });

  it('status --json has a schema version and no internal fields', () => {
    const s = JSON.parse(cliOk([...g, '--json', 'status'])) as { version: number; state: Record<string, unknown>; drift: unknown[] };
    expect(s.version).toBe(1);
    expect(s.state).not.toHaveProperty('generation');
    expect(JSON.stringify(s.state)).not.toContain('nsid');
    expect(s.drift).toEqual([]);
  });

  it('watch --type keeps only those types, every line with its time', async () => {
    const child = spawn(process.execPath, [CLI, ...g, '--json', 'watch', '--type', 'applied', '--type', 'stopped'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines: { type: string; time: string }[] = [];
    const applied = new Promise<void>((resolve) =>
      createInterface({ input: child.stdout }).on('line', (l) => {
        lines.push(JSON.parse(l) as { type: string; time: string });
        if (lines.at(-1)?.type === 'applied') resolve();
      }),
    );
    await new Promise((r) => setTimeout(r, 1500));
    cliOk(['--netns', lab.host, '--state-dir', lab.stateDir, 'publish', 'web', c1, '8181:81']);
    execFileSync('ip', ['netns', 'exec', lab.host, 'nft', 'delete', 'table', 'inet', 'nftbridge']);
    await applied;
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    expect(new Set(lines.map((l) => l.type))).toEqual(new Set(['applied', 'stopped']));
    expect(lines.every((l) => !Number.isNaN(Date.parse(l.time)))).toBe(true);
  });
});
