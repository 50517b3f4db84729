/** `nftbridge watch`: the controller in the foreground until SIGINT or SIGTERM. */
import { ValidationError } from '../errors.js';
import type { RulesetEvent, TopologyEvent } from '../monitor/events.js';
import { flag, int, list, positionals } from './args.js';
import { openHost, type Command } from './commands.js';

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** What woke the controller, counted by source: a burst of 40 nft events is one line, not 40 objects. */
const count = (reasons: { source: string }[]) => {
  const out: Record<string, number> = {};
  for (const r of reasons) out[r.source] = (out[r.source] ?? 0) + 1;
  return out;
};

/** One readable line for a topology or ruleset event: what happened to what. */
function describeEvent(e: TopologyEvent | RulesetEvent): string {
  const parts: unknown[] = [e.type, 'action' in e ? e.action : ''];
  if (e.type === 'link') parts.push(e.name, e.kind ? `(${e.kind})` : '', e.master ? `master ${e.master}` : '', e.state ?? '');
  else if (e.type === 'address') parts.push(`${e.address}/${e.prefixlen}`, `on ${e.ifname}`);
  else if (e.type === 'route') parts.push(e.dst, e.dev ? `dev ${e.dev}` : '', e.gateway ? `via ${e.gateway}` : '');
  else if (e.type === 'netns') parts.push(e.name);
  else parts.push(e.object, e.name ?? '');
  return parts.filter((p) => p !== '' && p !== undefined).join(' ');
}

export const watchCommand: Command = {
  usage: 'watch [--resync-ms N] [--coalesce-ms N] [--type TYPE]...',
  summary: 'run the controller in the foreground: watch and repair until SIGINT/SIGTERM',
  options: { 'resync-ms': { value: true }, 'coalesce-ms': { value: true }, type: { value: true, repeat: true } },
  run: async (args, io) => {
    positionals(args, []);
    const resyncMs = int(args, 'resync-ms');
    const coalesceMs = int(args, 'coalesce-ms');
    if (resyncMs !== undefined && resyncMs < 100) throw new ValidationError('--resync-ms', 'must be at least 100');
    const json = flag(args, 'json');
    const host = await openHost(args);
    const controller = host.controller({
      ...(resyncMs !== undefined ? { resyncMs } : {}),
      ...(coalesceMs !== undefined ? { coalesceMs } : {}),
    });
    // --type keeps only those event types; every line carries its time (ISO 8601).
    const types = new Set(list(args, 'type'));
    // Lines go out in one write per turn of the event loop, and a run of element events of one
    // set is one line with a count: a rebuild of 10,000 ports echoes 20,000 element events from
    // nft monitor (they carry no element), and stdout to a pipe blocks the daemon until the reader
    // has taken every line, right when the next repair may be due (bench: "watch on a large host").
    const pending: { time: string; obj: Record<string, unknown> & { type: string }; human: string; count: number }[] = [];
    const flush = () => {
      const lines = pending
        .splice(0)
        .map(({ time, obj, human, count }) =>
          json ? JSON.stringify({ time, ...obj, ...(count > 1 ? { count } : {}) }) : `${time} ${human}${count > 1 ? ` (x${count})` : ''}`,
        );
      if (lines.length > 0) io.out(lines.join('\n'));
    };
    const emit = (obj: Record<string, unknown> & { type: string }, human: string) => {
      if (types.size > 0 && !types.has(obj.type)) return;
      const last = pending.at(-1);
      // An event may stand for a run already (monitor/nft-notices.ts counts alike notices).
      const { count: n, ...rest } = obj;
      const count = typeof n === 'number' ? n : 1;
      if (rest.object === 'element' && last?.obj.object === 'element' && last.human === human) {
        last.count += count;
        return;
      }
      if (pending.length === 0) setImmediate(flush);
      pending.push({ time: new Date().toISOString(), obj: rest, human, count });
    };
    const { hooks } = controller;
    hooks.on('topology', (e) => emit({ ...e }, describeEvent(e)));
    hooks.on('drift', (r) =>
      emit(
        { type: 'drift', reasons: count(r.reasons), drift: r.drift },
        `drift: ${r.drift.map((d) => `${d.kind} ${d.subject}: ${d.reason}`).join('; ')}`,
      ),
    );
    hooks.on('plan', (p) =>
      emit(
        { type: 'plan', links: p.links, commands: p.document?.nftables.length ?? 0 },
        `plan: ${p.links ? 'repair links; ' : ''}${p.document ? `rebuild table (${p.document.nftables.length} commands)` : 'table unchanged'}`,
      ),
    );
    hooks.on('applied', (a) =>
      emit(
        {
          type: 'applied',
          reasons: count(a.reasons),
          durationMs: Math.round(a.durationMs * 10) / 10,
          drift: a.drift,
          commands: a.document?.nftables.length ?? 0,
        },
        `applied in ${a.durationMs.toFixed(1)} ms`,
      ),
    );
    hooks.on('idle', (r) => emit({ type: 'idle', reasons: count(r.reasons) }, `in sync (${Object.keys(count(r.reasons)).join(', ')})`));
    hooks.on('error', (e) =>
      emit(
        {
          type: 'error',
          source: e.source,
          message: message(e.error),
          ...(e.attempt ? { attempt: e.attempt, retryInMs: e.retryInMs } : {}),
        },
        `error in ${e.source}: ${message(e.error)}${e.retryInMs !== undefined ? ` (restarting in ${e.retryInMs} ms)` : ''}`,
      ),
    );

    let resolveStop!: () => void;
    const stopped = new Promise<void>((r) => (resolveStop = r));
    const onSignal = () => resolveStop();
    // `on`, not `once`: execa's signal-exit re-raises a signal when it sees no other listener.
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      controller.start();
      emit(
        { type: 'started', netns: host.netns ?? null, state: host.store.file },
        `watching ${host.netns ?? 'the current namespace'} (state ${host.store.file}); Ctrl-C stops`,
      );
      // The host firewalls found and the integration, once at start; changes show up as drift.
      const hf = await host.hostFirewall.observe(await host.state()).catch(() => undefined);
      if (hf)
        emit(
          { type: 'host-firewall', ...hf },
          hf.mode === 'off'
            ? 'host firewall: integration off'
            : `host firewall: ${hf.firewalls.map((f) => `${f.kind} (${f.table})`).join(', ') || 'none found'}${hf.integration.length ? `; in place: ${hf.integration.join(', ')}` : ''}`,
        );
      await stopped;
      await controller.stop();
      emit({ type: 'stopped' }, 'stopped');
      flush();
      return 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await host.close();
    }
  },
};
