/** `nftbridge demo`: the seed walkthrough in a sandbox; exit 1 when a check fails. */
import type { Command } from './commands.js';
import { flag } from './args.js';
import { runDemo } from '../demo/demo.js';
import { canSandbox, inSandbox, prepareSandbox, runSandboxed, SANDBOX_ENV } from '../lab/sandbox.js';

export const demoCommand: Command = {
  usage: 'demo [--no-sandbox]',
  summary: 'the seed walkthrough with real traffic, in a disposable sandbox',
  options: { 'no-sandbox': {} },
  run: async (args, io) => {
    // The demo runs in its own sandbox (private /run/netns) when the machine allows one, so nothing
    // of it can outlive it; inside, the same command runs for real.
    if (process.env[SANDBOX_ENV] === 'pending') prepareSandbox();
    else if (!inSandbox() && !flag(args, 'no-sandbox') && canSandbox())
      return runSandboxed([process.execPath, ...process.execArgv, process.argv[1] ?? '', ...process.argv.slice(2)]);
    const json = flag(args, 'json');
    const controller = new AbortController();
    const onSignal = () => {
      io.err('interrupted: cleaning up');
      controller.abort(new Error('interrupted'));
    };
    // `on`, not `once`: execa's signal-exit re-raises the signal when it sees no other listener.
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const log = json ? () => undefined : io.out;
      log('nftbridge demo: the seed, end to end, in a disposable sandbox');
      const results = await runDemo({ log, signal: controller.signal }).catch((err: unknown) => {
        if (!controller.signal.aborted) throw err;
        return undefined;
      });
      if (!results) {
        io.err('demo interrupted; everything it made was removed');
        return 130;
      }
      const failed = results.filter((r) => !r.ok).length;
      if (json) io.out(JSON.stringify({ checks: results, passed: results.length - failed, failed }));
      else io.out(`${results.length - failed} passed, ${failed} failed`);
      return failed === 0 && !controller.signal.aborted ? 0 : 1;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};
