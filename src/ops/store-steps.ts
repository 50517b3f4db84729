/** Steps that persist the desired state and rebuild the table, each with its undo. */
import { FAMILY, TABLE } from '../firewall/names.js';
import type { Firewall } from '../firewall/firewall.js';
import type { PublishedPort, State } from '../topology/state.js';
import { inverse, type StateChange, type StateStore } from '../topology/store.js';
import type { Step } from './operation.js';

export function saveStep(store: StateStore, before: State, after: State): Step {
  return { name: 'state', detail: store.file, run: () => store.write(after), undo: () => store.write(before) };
}

/** Saves a change of networks, containers or endpoints as one journal line (see StateStore.change). */
export function changeStep(store: StateStore, before: State, after: State, change: StateChange): Step {
  return {
    name: 'state',
    detail: store.journal,
    run: () => store.change(after, change),
    undo: () => store.change(before, inverse(change)),
  };
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

/**
 * The table for a change of networks: its rules only when there were networks before and are
 * after (the port maps keep their elements), the whole table for the first network, and no table
 * once the last is gone, so that removing the last network (a CNI DEL, say) leaves the host as it
 * was before the first.
 */
export function rebuildStep(firewall: Firewall, before: State, after: State): Step {
  const to = async (state: State, from: State) => {
    if (state.networks.length === 0) await firewall.remove();
    else if (from.networks.length > 0) await firewall.rebuildRules(state, from);
    else await firewall.rebuild(state);
  };
  return {
    name: 'firewall',
    detail: `rebuild table ${FAMILY} ${TABLE}`,
    run: () => to(after, before),
    undo: () => to(before, after),
  };
}
