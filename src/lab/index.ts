// nftbridge/lab: the disposable labs, real traffic and the seed walkthrough that the demo, the
// tests and the benchmarks use. Kept off the main entry, which is the stable API only.
export { Lab, UPLINK, ATTACKER } from './lab.js';
export { serve, send, type Server, type Reply, type Proto } from './traffic.js';
export { canSandbox, inSandbox, runSandboxed } from './sandbox.js';
export { runDemo, SEED, type CheckResult } from '../demo/demo.js';
export { seedState } from '../demo/seed.js';
