import { Host, Lab, planPublish } from '../src/index.js';
const lab = await Lab.create();
try {
  const host = await Host.open({ netns: lab.host, stateDir: lab.stateDir });
  await host.createNetwork({ name: 'n', subnet: '10.70.0.0/16' });
  const c = lab.name('c1');
  await host.connect('n', c);
  for (const N of [0, 1000, 10000]) {
    const state = await host.state();
    const have = state.ports.length;
    if (N > have) {
      const specs = Array.from({ length: N - have }, (_, i) => `${10000 + have + i}:80`);
      const ports = planPublish(state, 'n', c, specs);
      await host.store.write({ ...state, ports: [...state.ports, ...ports] });
      let t = performance.now(); await host.apply(); console.log(`apply N=${N}: ${(performance.now() - t).toFixed(1)} ms`);
    }
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      await host.publish('n', c, ['5000:80']);
      const t1 = performance.now();
      await host.unpublish('n', c, ['5000']);
      times.push(t1 - t0, performance.now() - t1);
    }
    times.sort((a, b) => a - b);
    console.log(`N=${N} publish/unpublish median ${times[10].toFixed(1)} ms`);
  }
} finally { await lab.destroy(); }
