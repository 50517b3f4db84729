/**
 * Group commit of concurrent connects. `host.connect()` calls made while others wait for the state
 * lock go in as one operation: one lock, one plan, one firewall transaction for all their source
 * addresses, one journal line, and the containers' insides configured a few at a time. A runtime
 * starting many containers at once pays an operation's overhead once; the process each container
 * needs in its namespace stays, and where process starts do not overlap (README "Performance")
 * it is most of the cost.
 *
 * Nothing about a connect's outcome changes: a call whose plan fails (an unknown network, a taken
 * address) gets its own error and stays out of the group; if the group fails midway, the whole
 * group is rolled back and each of its calls runs again alone, so each gets its own result or
 * error as if it had never been grouped.
 */
import { Ip } from '../ip/ip.js';
import type { ConnectInput } from '../topology/plan.js';
import type { Endpoint, State } from '../topology/state.js';
import type { HostContext, HostPlan } from './context.js';
import type { Step } from './operation.js';
import { connectSteps, type PlannedConnect, planConnect, segmentAddresses } from './endpoint-plans.js';
import { containerStep, netnsStep, sourcesStep, vethStep } from './steps.js';
import { changeStep } from './store-steps.js';

export interface ConnectCall {
  network: string;
  container: string;
  input: ConnectInput;
}

interface Member extends ConnectCall {
  resolve(ep: Endpoint): void;
  reject(err: unknown): void;
}

interface Group {
  members: Member[];
  /** The Host's operation count once the leader's operation started. */
  at: number;
}

/**
 * Containers configured at once: each is a process. 1, 2, 4 and 8 measured alike on the
 * development machine, whose process starts do not overlap; 4 lets a machine whose starts do use it.
 */
const INSIDE_AT_ONCE = 4;

export interface GroupRunner {
  /** Runs a plan as the Host's locked operation "connect" (the lock is asked for at once). */
  run(build: (state: State) => Promise<HostPlan<Endpoint[]>>): Promise<Endpoint[]>;
  /** One connect as it always ran (`host.connect$`). */
  alone(call: ConnectCall): Promise<Endpoint>;
  /** How many operations this Host has started. */
  started(): number;
}

export class ConnectGroups {
  /** The group whose leader waits for the lock: later calls join it until it takes the lock. */
  private open: Group | undefined;

  constructor(
    private readonly ctx: HostContext,
    private readonly host: GroupRunner,
  ) {}

  join(call: ConnectCall): Promise<Endpoint> {
    return new Promise<Endpoint>((resolve, reject) => {
      const m: Member = { ...call, resolve, reject };
      const g = this.open;
      // Only while no other operation started since the leader's, so no call overtakes one made
      // before it; and one call per container (a second network waits for the container to exist).
      if (g && g.at === this.host.started() && !g.members.some((x) => x.container === m.container)) g.members.push(m);
      else this.lead(m);
    });
  }

  private lead(first: Member): void {
    const group: Group = { members: [first], at: 0 };
    this.open = group;
    let planned: Member[] | undefined;
    const eps = this.host.run(async (state) => {
      // The lock is ours: the group is closed, later calls make the next.
      if (this.open === group) this.open = undefined;
      const p = await this.plan(group.members, state);
      planned = p.members;
      return groupPlan(this.ctx, state, p.connects);
    });
    group.at = this.host.started();
    eps.then(
      (list) => {
        for (const [i, m] of (planned ?? []).entries()) m.resolve(list[i] as Endpoint);
      },
      async (err: unknown) => {
        // Before planning (the lock, the state), or a call that ran alone: its own error.
        if (!planned || planned.length <= 1) {
          for (const m of planned ?? group.members) m.reject(err);
          return;
        }
        // Rolled back as a whole: each call again on its own, for its own outcome.
        for (const m of planned) await this.host.alone(m).then(m.resolve, m.reject);
      },
    );
  }

  /** Each call against the state its predecessors in the group leave; one that fails gets its error now. */
  private async plan(group: Member[], state: State): Promise<{ members: Member[]; connects: PlannedConnect[] }> {
    const members: Member[] = [];
    const connects: PlannedConnect[] = [];
    // One look at each bridge's segment for the whole group: the group's own addresses are in `at`.
    const looks = new Map<string, Promise<string[]>>();
    const segment = (bridge: string) => {
      let look = looks.get(bridge);
      if (!look) looks.set(bridge, (look = segmentAddresses(this.ctx, bridge)));
      return look;
    };
    let at = state;
    for (const m of group) {
      try {
        const c = await planConnect(this.ctx, at, m.network, m.container, m.input, segment);
        members.push(m);
        connects.push(c);
        at = c.next;
      } catch (err) {
        m.reject(err);
      }
    }
    return { members, connects };
  }
}

/** The steps of a group: the same as one connect's, each made once for all. */
function groupPlan(ctx: HostContext, state: State, connects: PlannedConnect[]): HostPlan<Endpoint[]> {
  if (connects.length === 0) return { steps: [], result: () => [] };
  if (connects.length === 1) return singlePlan(ctx, state, connects[0] as PlannedConnect);
  const next = (connects.at(-1) as PlannedConnect).next;
  const eps = connects.map((c) => c.ep);
  const fresh = connects.filter((c) => !c.known);
  const steps: Step[] = [];
  if (fresh.length > 0)
    steps.push(
      allSteps(
        'netns',
        fresh.map((c) => netnsStep(ctx.nsIp, c.box, ctx.namespaces)),
      ),
    );
  // Their addresses are allowed through their ports before the ports exist, in one transaction.
  steps.push(sourcesStep(ctx.firewall, 'add', eps, next, state));
  steps.push(...connects.map((c) => vethStep(ctx.ip, c.net, c.ep, c.box.netns, ctx.mark)));
  steps.push(insideStep(connects.map((c) => containerStep(new Ip(ctx.runner, c.box.netns), c.net, c.ep, c.defaultRoute, ctx.mark))));
  steps.push(changeStep(ctx.store, state, next, { containers: { add: fresh.map((c) => c.box) }, endpoints: { add: eps } }));
  return {
    steps,
    result: () => eps,
    creates: { links: eps.map((ep) => ep.hostIfname), netns: fresh.filter((c) => c.box.created).map((c) => c.box.name) },
  };
}

/** One connect: its usual steps (endpoint-plans.ts), its result as a list of one. */
function singlePlan(ctx: HostContext, state: State, c: PlannedConnect): HostPlan<Endpoint[]> {
  const plan = connectSteps(ctx, state, c);
  return { ...plan, result: () => [c.ep] };
}

/** Several steps in order as one; on failure, those done are undone (the failing one's partial work too). */
function allSteps(name: string, steps: Step[]): Step {
  const done: Step[] = [];
  const undo = async () => {
    for (const s of done.splice(0).reverse()) await s.undo?.();
  };
  return {
    name,
    detail: steps.map((s) => s.detail).join(', '),
    run: async () => {
      for (const s of steps) {
        await s.run();
        done.push(s);
      }
    },
    undo,
    undoOnFailure: true,
  };
}

/** The containers' insides, a few at a time. Nothing to undo: deleting the veths takes it all. */
function insideStep(steps: Step[]): Step {
  return {
    name: 'container',
    detail: steps.map((s) => s.detail).join(', '),
    run: async () => {
      const queue = [...steps];
      const worker = async () => {
        for (let s = queue.shift(); s; s = queue.shift()) await s.run();
      };
      // Every worker runs to its end before the step fails, so no process is left working.
      const results = await Promise.allSettled(Array.from({ length: Math.min(INSIDE_AT_ONCE, steps.length) }, worker));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
