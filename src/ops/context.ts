/**
 * What operations, repairs and the controller need of a host: its namespace, the tools bound to it
 * and its state. A narrow context instead of the Host class, so nothing below `host.ts` imports it.
 */
import type { Runner } from '../exec/runner.js';
import type { Firewall } from '../firewall/firewall.js';
import type { HostFirewall } from '../hostfw/host-firewall.js';
import type { Ip } from '../ip/ip.js';
import type { NamespaceProbe } from '../ip/netns.js';
import type { Intent, IntentLog } from '../topology/intent.js';
import type { State } from '../topology/state.js';
import type { StateStore } from '../topology/store.js';
import type { Step } from './operation.js';

export interface HostContext {
  readonly runner: Runner;
  /** Path of the host namespace; undefined for the current one. */
  readonly netns: string | undefined;
  /** `ip` in the host namespace. */
  readonly ip: Ip;
  /** `ip` in the current namespace, which creates and deletes named container namespaces. */
  readonly nsIp: Ip;
  readonly firewall: Firewall;
  readonly store: StateStore;
  /** The alias every link made for this state carries (ops/ownership.ts). */
  readonly mark: string;
  /** What an operation is about to create, for recovery after a kill (topology/intent.ts). */
  readonly intents: IntentLog;
  /** How namespaces are looked at (the kernel's nsfs, or a fake's). */
  readonly namespaces: NamespaceProbe;
  /** firewalld, ufw and other tables' drop policies, and nftbridge's way through them. */
  readonly hostFirewall: HostFirewall;
}

/** An operation planned against the state: its steps, its result, and what it will create. */
export interface HostPlan<T> {
  steps: Step[];
  result: () => T;
  /** Written as the intent before the first step, so a kill midway leaves nothing unknown. */
  creates?: Partial<Pick<Intent, 'links' | 'netns'>>;
  /** Teardown: every step runs even when one fails; the failures are reported together. */
  bestEffort?: boolean;
}

/** The mark and the interrupted operation's intent, for drift and orphan detection. */
export const ownerOf = (ctx: HostContext, state?: State) => ({ mark: ctx.mark, intent: ctx.intents.read(), ...(state ? { state } : {}) });
