/**
 * The README's TypeScript snippets, run as written (complete programs) or after the one line of
 * setup they assume (fragments that use `host`), each in a sandbox of its own: its own network
 * namespace, /run/netns and state directory, so fixed names such as `ns1` meet nothing else.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { describeKernel } from '../helpers/kernel.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
// Inside the package, so that `import ... from 'nftbridge'` resolves to the package itself.
const dir = `${root}test/.readme/`;

/** Every ```ts block of the README, in order. */
const blocks = [...readFileSync(`${root}README.md`, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');

/** Runs a program in a fresh sandbox. */
function run(name: string, code: string): { status: number | null; stdout: string; stderr: string } {
  mkdirSync(dir, { recursive: true });
  const file = `${dir}${name}.ts`;
  writeFileSync(file, code);
  const tsx = `${root}node_modules/.bin/tsx`;
  const r = spawnSync(process.execPath, [`${root}dist/cli/main.js`, 'sandbox', '--', tsx, file], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describeKernel('README snippets', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has the four snippets this test knows', () => {
    expect(blocks).toHaveLength(4);
  });

  it('the library example runs as written', () => {
    const r = run('library', blocks[0] ?? '');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('the observable form (a fragment: after the library example has made `host` and network web)', () => {
    const setup =
      "import { Host } from 'nftbridge';\nconst host = await Host.open();\nawait host.createNetwork({ name: 'web', subnet: '172.18.0.0/24' });\n";
    const r = run(
      'observable',
      `${setup}${blocks[1] ?? ''}\nawait new Promise((r) => setTimeout(r, 3000));\nawait host.down();\nawait host.close();\n`,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^1\/\d+ \S+/m);
    expect(r.stdout).toMatch(/state/);
  });

  it('the events example runs as written (until stopped) and prints link events', () => {
    // It watches forever: a link made meanwhile shows up; the program is then ended from inside.
    const later = (ms: number, what: string) => `\nsetTimeout(() => { ${what} }, ${ms});\n`;
    const code = `${blocks[2] ?? ''}${later(1500, "import('node:child_process').then((c) => c.execFileSync('ip', ['link', 'add', 'rdm0', 'type', 'veth', 'peer', 'name', 'rdm1']))")}${later(3500, 'process.exit(0)')}`;
    const r = run('events', code);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/added rdm0 veth/);
  });

  it('the controller example (a fragment: after `host` is opened) starts and stops on SIGTERM', () => {
    const setup = "import { Host } from 'nftbridge';\nconst host = await Host.open();\n";
    const code = `${setup}${blocks[3] ?? ''}\nsetTimeout(() => process.kill(process.pid, 'SIGTERM'), 1500);\n`;
    const r = run('controller', code);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
