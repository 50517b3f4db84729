/** Desired states shared by tests: a dual-stack network with every kind of published port, and an internal one. */
import { planEndpoint, planNetwork } from '../../src/topology/plan.js';
import { planPublish } from '../../src/topology/port-plan.js';
import { emptyState, type State } from '../../src/topology/state.js';

export function dualStackState(): State {
  const s = emptyState();
  s.networks.push(planNetwork(s, { name: 'a', subnet: ['172.22.0.0/24', 'fd00:22::/64'] }));
  s.networks.push(planNetwork(s, { name: 'b', subnet: '172.23.0.0/24', internal: true }));
  s.endpoints.push(planEndpoint(s, 'a', 'c1', {}, 'vethx1'));
  s.endpoints.push(planEndpoint(s, 'b', 'c2', {}, 'vethx2'));
  s.ports.push(...planPublish(s, 'a', 'c1', ['8080:80', '[fd00::1]:8443:443', '127.0.0.1:5353:53/udp', '9000-9005:9100-9105/udp']));
  return s;
}
