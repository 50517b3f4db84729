/**
 * The real-engine CNI tests (Podman, containerd), run by `npm test` before the sandboxed suite and
 * outside the sandbox: engines need real root for cgroups and mounts, which a user namespace does
 * not give. They make their own lab namespaces and private mount namespaces all the same, and
 * skip (saying why) when not run as real root.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/integration/cni-engines.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
