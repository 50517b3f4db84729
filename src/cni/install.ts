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
import { versionAnswer } from './spec.js';

export const DEFAULT_CNI_DIR = '/opt/cni/bin';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The bundled plugin when the build made it (npm run build does), else the module tree. */
const pluginEntry = (): string => {
  const bundle = fileURLToPath(new URL('./plugin.mjs', import.meta.url));
  return existsSync(bundle) ? bundle : fileURLToPath(new URL('./main.js', import.meta.url));
};

export function launcherScript(node = process.execPath, main = pluginEntry()): string {
  return [
    '#!/bin/sh',
    '# nftbridge CNI plugin, written by `nftbridge cni install`. VERSION is answered here without',
    '# starting Node; the other commands run nftbridge. Engines may start plugins with a bare PATH.',
    'if [ "$CNI_COMMAND" = VERSION ]; then',
    '  cat >/dev/null',
    `  printf '%s\\n' ${quote(versionAnswer())}`,
    '  exit 0',
    'fi',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
    'PATH="${PATH:+$PATH:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
    'export PATH',
    `exec ${quote(node)} ${quote(main)}`,
    '',
  ].join('\n');
}

/** Writes DIR/nftbridge (atomically; the same content again is a no-op). Returns its path. */
export async function installPlugin(dir = DEFAULT_CNI_DIR): Promise<{ path: string; changed: boolean }> {
  const path = join(dir, 'nftbridge');
  const text = launcherScript();
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
