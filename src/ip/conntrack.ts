/**
 * Stale conntrack entries: a UDP flow that started before its port was published keeps its old
 * (un-NATed) entry and would never reach the container. Deleting the entries makes the next packet
 * go through the new mapping. TCP needs nothing: a connection attempt before the publish was refused.
 */
import { CommandError } from '../errors.js';
import type { Runner } from '../exec/runner.js';
import type { PublishedPort } from '../topology/state.js';

/** Ranges are cleared port by port; beyond this many ports a range is left to time out. */
const MAX_PORTS = 64;

export async function forgetStaleFlows(runner: Runner, netns: string | undefined, ports: readonly PublishedPort[]): Promise<void> {
  for (const p of ports) {
    if (p.protocol !== 'udp' || p.hostPortEnd - p.hostPort >= MAX_PORTS) continue;
    for (let port = p.hostPort; port <= p.hostPortEnd; port++) {
      const argv = ['-D', '-p', 'udp', '--orig-port-dst', String(port), ...(p.hostIp ? ['--orig-dst', p.hostIp] : [])];
      try {
        await runner.run('conntrack', argv, { netns });
      } catch (err) {
        // "0 flow entries have been deleted" exits 1: nothing was stale. A missing conntrack binary
        // only loses this refinement.
        if (!(err instanceof CommandError) || !/0 flow entries|No such file|ENOENT|not found/i.test(err.stderr + err.message)) throw err;
      }
    }
  }
}
