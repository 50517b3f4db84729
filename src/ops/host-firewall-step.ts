/** The step that keeps the host firewall letting nftbridge's networks through. */
import type { EarlyLook } from '../hostfw/host-firewall.js';
import type { State } from '../topology/state.js';
import type { HostContext } from './context.js';
import type { Step } from './operation.js';

/**
 * The host firewall made to let `after`'s networks through (README "Host firewalls"); its undo
 * makes it fit `before` again. With no networks, everything nftbridge added to it is removed.
 * `early`: a look the plan started when it was made (HostFirewall.lookEarly), used if still valid.
 */
export function hostFirewallStep(ctx: Pick<HostContext, 'hostFirewall'>, after: State, before?: State, early?: EarlyLook): Step {
  const step: Step = {
    name: 'host-firewall',
    detail: ctx.hostFirewall.enabled ? 'nothing to do' : 'off',
    run: async () => {
      const changes = await ctx.hostFirewall.sync(after, early);
      if (changes.length > 0) step.detail = changes.join(', ');
    },
    ...(before ? { undo: async () => void (await ctx.hostFirewall.sync(before)) } : {}),
  };
  return step;
}
