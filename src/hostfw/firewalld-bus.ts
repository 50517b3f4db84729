/** Small pieces of the D-Bus side of firewalld: its signals as an Observable, timeouts, error events. */
import type * as dbus from '@jellybrick/dbus-next';
import { Observable } from 'rxjs';

export const FIREWALLD_NAME = 'org.fedoraproject.FirewallD1';

export interface FirewalldState {
  /** Runtime: the zone and the policy exist, and which bridges are in the zone. */
  runtime: { zone: boolean; policy: boolean; interfaces: string[] };
  permanent: { zone: boolean; policy: boolean; interfaces: string[] };
}

export class FirewalldError extends Error {}
export const IFACE = FIREWALLD_NAME;

/** `Reloaded`, and firewalld's name changing owner (a restart). */
export function firewalldEvents(bus: dbus.MessageBus, addMatch: (rule: string) => Promise<unknown>): Observable<'reloaded' | 'restarted'> {
  return new Observable((subscriber) => {
    const onMessage = (msg: dbus.Message) => {
      if (msg.interface === IFACE && msg.member === 'Reloaded') subscriber.next('reloaded');
      else if (msg.member === 'NameOwnerChanged' && msg.body[0] === FIREWALLD_NAME && msg.body[2]) subscriber.next('restarted');
    };
    bus.on('message', onMessage);
    onError(bus, (err) => subscriber.error(err));
    for (const rule of [
      `type='signal',sender='${FIREWALLD_NAME}',interface='${IFACE}',member='Reloaded'`,
      `type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='${FIREWALLD_NAME}'`,
    ])
      addMatch(rule).catch((err: unknown) => subscriber.error(err));
    return () => bus.removeListener('message', onMessage);
  });
}

/** firewalld has exactly what `bridges` need, runtime and permanent. */
export function complete(state: FirewalldState, bridges: readonly string[]): boolean {
  const same = (have: readonly string[]) => have.length === bridges.length && bridges.every((b) => have.includes(b));
  const { runtime, permanent } = state;
  return runtime.zone && runtime.policy && permanent.zone && permanent.policy && same(runtime.interfaces) && same(permanent.interfaces);
}

/** The bus reports connection failures as an 'error' event its typings do not list. */
export const onError = (bus: dbus.MessageBus, listener: (err: unknown) => void) =>
  (bus as unknown as NodeJS.EventEmitter).on('error', listener);

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new FirewalldError(`no answer from the system bus in ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
