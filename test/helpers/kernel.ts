/** Integration tests need ip, nft and the right to create namespaces; under CI a missing piece fails. */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe } from 'vitest';

function probe(): string | undefined {
  for (const bin of ['ip', 'nft', 'nsenter'])
    if (spawnSync('sh', ['-c', `command -v ${bin} || test -x /usr/sbin/${bin}`], { stdio: 'ignore' }).status !== 0)
      return `${bin} is not installed`;
  const name = `nbprobe-${randomBytes(3).toString('hex')}`;
  const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (add.status !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  const nft = spawnSync('nsenter', [`--net=/run/netns/${name}`, 'nft', 'list', 'tables'], { encoding: 'utf8' });
  spawnSync('ip', ['netns', 'del', name]);
  if (nft.status !== 0) return `nft does not work in a namespace: ${nft.stderr.trim()}`;
  return undefined;
}

export const kernelMissing = probe();

if (kernelMissing && process.env.CI === 'true')
  throw new Error(`integration tests cannot run under CI: ${kernelMissing} (run them through "npm test", which sandboxes them)`);

/** describe() for tests that need the real kernel: skipped locally without one, failing under CI. */
export const describeKernel = kernelMissing ? describe.skip : describe;
