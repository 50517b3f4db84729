/** Steps that persist the desired state and rebuild the table, each with its undo. */
import { FAMILY, TABLE } from '../firewall/names.js';
import type { Firewall } from '../firewall/firewall.js';
import type { PublishedPort, State } from '../topology/state.js';
import type { StateStore } from '../topology/store.js';
import type { Step } from './operation.js';

export function saveStep(store: StateStore, before: State, after: State): Step {
  return { name: 'state', detail: store.file, run: () => store.write(after), undo: () => store.write(before) };
}

/** Saves a change of published ports as one journal line (see StateStore.changePorts). */
export function portsStep(store: StateStore, before: State, after: State, add: PublishedPort[], remove: PublishedPort[]): Step {
  return {
    name: 'state',
    detail: store.journal,
    run: () => store.changePorts(after, { add, remove }),
    undo: () => store.changePorts(before, { add: remove, remove: add }),
  };
}

export function rebuildStep(firewall: Firewall, before: State, after: State): Step {
  return {
    name: 'firewall',
    detail: `rebuild table ${FAMILY} ${TABLE}`,
    // With no network left the tables go too, so that removing the last network (a CNI DEL, say)
    // leaves the host as it was before the first.
    run: async () => void (after.networks.length > 0 ? await firewall.rebuild(after) : await firewall.remove()),
    undo: async () => void (before.networks.length > 0 ? await firewall.rebuild(before) : await firewall.remove()),
  };
}
