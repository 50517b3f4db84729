/**
 * `nftbridge cni install`: an executable named `nftbridge` in the CNI plugin directory, so that
 * engines find it by `"type": "nftbridge"`. It is a small sh launcher: VERSION is answered by the
 * shell (runtimes ask it often; Podman on nearly every command, with CNI_NETNS=dummy) and only the
 * other commands start Node.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_RUN_DIR } from './helper.js';
import { versionAnswer } from './spec.js';

export const DEFAULT_CNI_DIR = '/opt/cni/bin';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The bundled plugin when the build made it (npm run build does), else the module tree. Named from
 * dist/ itself: this module is also inside the CLI's bundle (dist/cli/main.js), one folder over.
 */
const pluginEntry = (): string => {
  const bundle = fileURLToPath(new URL('../cni/plugin.mjs', import.meta.url));
  return existsSync(bundle) ? bundle : fileURLToPath(new URL('../cni/main.js', import.meta.url));
};

/**
 * Hands the call to the resident helper over its socket (named for this network namespace) when
 * one answers (254: "not for me", a namespace path it cannot see); otherwise runs the plugin with Node, which leaves a helper behind.
 * Perl (Debian's perl-base is essential) starts in a few milliseconds; without it, Node every time.
 */
const PERL = String.raw`use strict; use Socket;
my ($dir, $node, $main) = @ARGV;
my ($net) = ((readlink('/proc/self/ns/net') // '') =~ /(\d+)/);
my $path = $dir . '/cni-' . ($net // 0) . '.sock';
my $in = do { local $/; <STDIN> } // '';
if (-S $path and socket(my $s, PF_UNIX, SOCK_STREAM, 0)) {
  if (connect($s, pack_sockaddr_un($path))) {
    my $req = join('', map { "$_=$ENV{$_}\n" } grep { /^CNI_/ and $ENV{$_} !~ /\n/ } sort keys %ENV) . "\n" . $in;
    while (length $req) { my $n = syswrite($s, $req); last unless defined $n; substr($req, 0, $n) = ''; }
    shutdown($s, 1);
    my $out = do { local $/; <$s> } // '';
    if ($out =~ /\A(\d+)\n/ and $1 != 254) { print substr($out, length($1) + 1); exit $1; }
  }
}
$ENV{NFTBRIDGE_CNI_RUN_DIR} = $dir;
open(my $p, '|-', $node, $main) or exit 1;
print $p $in;
close($p);
exit($? >> 8);`;

export function launcherScript(node = process.execPath, main = pluginEntry(), runDir = DEFAULT_RUN_DIR): string {
  return [
    '#!/bin/sh',
    '# nftbridge CNI plugin, written by `nftbridge cni install`. VERSION is answered here without',
    '# starting Node; other calls go to the resident helper when it runs, else to Node (which starts',
    '# one). Engines may start plugins with a bare PATH.',
    'if [ "$CNI_COMMAND" = VERSION ]; then',
    // Drained with a builtin: one exec fewer than cat, which is most of a call's cost.
    '  while read -r line; do :; done',
    `  printf '%s\\n' ${quote(versionAnswer())}`,
    '  exit 0',
    'fi',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
    'PATH="${PATH:+$PATH:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
    'export PATH',
    'if command -v perl >/dev/null 2>&1; then',
    `  exec perl -e ${quote(PERL)} ${quote(runDir)} ${quote(node)} ${quote(main)}`,
    'fi',
    `exec ${quote(node)} ${quote(main)}`,
    '',
  ].join('\n');
}

/** Writes DIR/nftbridge (atomically; the same content again is a no-op). Returns its path. */
export async function installPlugin(dir = DEFAULT_CNI_DIR, runDir = DEFAULT_RUN_DIR): Promise<{ path: string; changed: boolean }> {
  const path = join(dir, 'nftbridge');
  const text = launcherScript(undefined, undefined, runDir);
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current === text) {
    await chmod(path, 0o755);
    return { path, changed: false };
  }
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode: 0o755 });
  await rename(tmp, path);
  return { path, changed: true };
}
