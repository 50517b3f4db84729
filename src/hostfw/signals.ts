/** firewalld's reloads and restarts as an endless stream, for the controller. */
import { defer, EMPTY, from, NEVER, type Observable, repeat, type SchedulerLike, switchMap, tap, timer } from 'rxjs';
import type { HostFirewall } from './host-firewall.js';

/** How often to look again for a firewalld that was not there (it may start later). */
export const FIREWALLD_RETRY_MS = 5000;

/**
 * `reloaded` and `restarted` from firewalld's D-Bus signals. Without firewalld it looks again every
 * few seconds, quietly: a host without firewalld is normal, not an error. A lost bus connection
 * errors, and the controller restarts the source with backoff.
 */
export function firewalldSignals(hostFirewall: HostFirewall, scheduler: SchedulerLike): Observable<'reloaded' | 'restarted'> {
  if (!hostFirewall.enabled) return NEVER;
  return defer(() => from(hostFirewall.firewalldClient())).pipe(
    switchMap((fw) =>
      fw
        ? fw.events().pipe(
            tap({
              error: () => hostFirewall.resetFirewalld(),
            }),
          )
        : EMPTY,
    ),
    repeat({ delay: () => timer(FIREWALLD_RETRY_MS, scheduler) }),
  );
}
