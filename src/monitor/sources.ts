/** The event sources of the controller, each an Observable: ip monitor, nft monitor, /run/netns, the state file. */
import { watch } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { catchError, defer, filter, finalize, from, map, mergeMap, Observable, switchMap, tap, throwError } from 'rxjs';
import type { Runner } from '../exec/runner.js';
import { Ip } from '../ip/ip.js';
import type { NetnsEvent, RulesetEvent, TopologyEvent } from './events.js';
import { parseMonitorLine } from './ip-monitor-parse.js';
import { parseNftMonitorLine } from './nft-monitor-parse.js';
import { NOTICES_COMMAND, parseNftNotice } from './nft-notices.js';
import type { NoticeGate } from './notice-gate.js';
import { processLines, type ChildInfo } from './process-lines.js';

/** Link, address and route events of one namespace; links are "added" the first time their index is seen. */
export function ipMonitor(runner: Runner, netns: string | undefined, onChild?: (c: ChildInfo) => void): Observable<TopologyEvent> {
  return defer(() => from(new Ip(runner, netns).links())).pipe(
    switchMap((links) => {
      const known = new Set(links.map((l) => l.index));
      return processLines('ip', ['-o', '-d', 'monitor', 'label', 'link', 'address', 'route'], netns, onChild, runner).pipe(
        map(parseMonitorLine),
        filter((e) => e !== undefined),
        map((e): TopologyEvent => {
          if (e.type !== 'link') return e;
          if (e.action === 'deleted') {
            known.delete(e.index);
            return { ...e, action: 'deleted' };
          }
          const action = known.has(e.index) ? 'changed' : 'added';
          known.add(e.index);
          return { ...e, action };
        }),
      );
    }),
  );
}

/**
 * Changes to the owned table, whoever made them, and other tables' tables, chains and rules (as
 * foreign). Read by a perl from the kernel's notices (monitor/nft-notices.ts); where that script
 * ends before it is subscribed (no perl, no socket), by `nft -j monitor`.
 */
export function nftMonitor(
  netns: string | undefined,
  family: string,
  table: string,
  onChild?: (c: ChildInfo) => void,
  runner?: Pick<Runner, 'spawn'>,
  /** Takes the script's commands while it runs (the watch daemon's; `nft -j monitor` takes none). */
  gate?: NoticeGate,
): Observable<RulesetEvent> {
  const byNft = processLines('nft', ['-j', 'monitor'], netns, onChild, runner).pipe(
    map((line) => parseNftMonitorLine(line, family, table)),
  );
  const [perl, args] = NOTICES_COMMAND;
  return defer(() => {
    let ready = false;
    let send: ChildInfo['send'];
    const started = (c: ChildInfo) => {
      send = c.send;
      onChild?.(c);
    };
    return processLines(perl, args, netns, started, runner, gate ? 'pipe' : 'ignore').pipe(
      tap((line) => gate?.heard(line)),
      map((line) => parseNftNotice(line, family, table)),
      tap((e) => {
        if (e !== 'ready') return;
        ready = true;
        gate?.attach(send);
      }),
      catchError((err: unknown) => (ready ? throwError(() => err) : byNft)),
      finalize(() => gate?.attach(undefined)),
    );
  }).pipe(filter((e): e is RulesetEvent => e !== undefined && e !== 'ready'));
}

/** Named namespaces appearing in and vanishing from a directory (/run/netns). */
export function netnsEvents(dir = '/run/netns'): Observable<NetnsEvent> {
  return new Observable<Set<string>>((subscriber) => {
    let closed = false;
    const list = () =>
      readdir(dir).then(
        (names) => new Set(names),
        () => new Set<string>(),
      );
    let watcher: ReturnType<typeof watch> | undefined;
    void mkdir(dir, { recursive: true })
      .catch(() => undefined)
      .then(async () => {
        if (closed) return;
        subscriber.next(await list());
        watcher = watch(dir, () => void list().then((s) => subscriber.next(s)));
        watcher.on('error', (err) => subscriber.error(err));
      });
    return () => {
      closed = true;
      watcher?.close();
    };
  }).pipe(
    // Turn successive listings into added/deleted events.
    (source) =>
      new Observable<NetnsEvent>((subscriber) => {
        let previous: Set<string> | undefined;
        return source.subscribe({
          next: (now) => {
            if (previous) {
              for (const name of now) if (!previous.has(name)) subscriber.next({ type: 'netns', action: 'added', name });
              for (const name of previous) if (!now.has(name)) subscriber.next({ type: 'netns', action: 'deleted', name });
            }
            previous = now;
          },
          error: (e) => subscriber.error(e),
          complete: () => subscriber.complete(),
        });
      }),
  );
}

/** The state files (snapshot, journal) written by another process (a CLI call, another program). */
export function stateFileChanges(...files: string[]): Observable<string> {
  const dir = dirname(files[0] ?? '.');
  const names = new Set(files.map((f) => basename(f)));
  return defer(() => from(mkdir(dir, { recursive: true }))).pipe(
    mergeMap(
      () =>
        new Observable<string>((subscriber) => {
          const watcher = watch(dir, (_event, changed) => {
            if (changed && names.has(changed)) subscriber.next(join(dir, changed));
          });
          watcher.on('error', (err) => subscriber.error(err));
          return () => watcher.close();
        }),
    ),
  );
}
