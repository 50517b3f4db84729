/** The seed article's exact topology as desired state, for rulesets/seed.json and its test. */
import { planEndpoint, planNetwork } from '../topology/plan.js';
import { planPublish } from '../topology/port-plan.js';
import { emptyState, type State } from '../topology/state.js';

export function seedState(): State {
  const s = emptyState();
  s.networks.push(planNetwork(s, { name: 'seed', subnet: '172.18.0.0/24', gateway: '172.18.0.1', bridge: 'br0' }));
  for (const [name, ip, ifname, hostIfname] of [
    ['ns1', '172.18.0.2', 'veth0', 'veth1'],
    ['ns2', '172.18.0.3', 'veth2', 'veth3'],
  ] as const) {
    s.containers.push({ name, netns: `/run/netns/${name}`, created: true });
    s.endpoints.push(planEndpoint(s, 'seed', name, { ip, ifname }, hostIfname));
  }
  s.ports.push(...planPublish(s, 'seed', 'ns1', ['80:80/tcp']));
  return s;
}
