/**
 * firewalld through its D-Bus API (@jellybrick/dbus-next, a maintained fork of dbus-next without its
 * native optional dependency; plain method calls: no introspection round trips).
 * nftbridge keeps a zone of its own holding its bridges and a policy accepting what comes in from
 * that zone, both runtime and permanent, so the networks keep working across `firewall-cmd
 * --reload` and a firewalld restart with no nftbridge process running. The default zone and every
 * other zone are never changed.
 */
import { existsSync } from 'node:fs';
import * as dbus from '@jellybrick/dbus-next';
import type { Observable } from 'rxjs';
import {
  complete,
  FIREWALLD_NAME,
  FirewalldError,
  type FirewalldState,
  firewalldEvents,
  IFACE,
  onError,
  withTimeout,
} from './firewalld-bus.js';

export { FIREWALLD_NAME, FirewalldError, type FirewalldState };

const PATH = '/org/fedoraproject/FirewallD1';
const CONFIG_PATH = '/org/fedoraproject/FirewallD1/config';

const IFACE_ZONE = `${IFACE}.zone`;
const IFACE_POLICY = `${IFACE}.policy`;
const IFACE_CONFIG = `${IFACE}.config`;
const IFACE_CONFIG_ZONE = `${IFACE}.config.zone`;
const IFACE_CONFIG_POLICY = `${IFACE}.config.policy`;

/** nftbridge's zone and policy in firewalld. */
export const ZONE = 'nftbridge';
export const POLICY = 'nftbridge-forward';

export const DEFAULT_SYSTEM_BUS = 'unix:path=/run/dbus/system_bus_socket';

/** The system bus address: DBUS_SYSTEM_BUS_ADDRESS, or the standard socket. */
export const systemBusAddress = (env: NodeJS.ProcessEnv = process.env): string => env.DBUS_SYSTEM_BUS_ADDRESS || DEFAULT_SYSTEM_BUS;

/** The socket path of a `unix:path=` address, to see whether a bus is there before connecting. */
export const socketPath = (address: string): string | undefined => /(?:^|;)unix:path=([^,;]+)/.exec(address)?.[1];

/** One connection to the system bus, for one firewalld. */
export class Firewalld {
  private constructor(private readonly bus: dbus.MessageBus) {}

  /**
   * Connects when a bus is there and firewalld answers on it (its first read is the test: no
   * separate name lookup, one round trip less); undefined otherwise. `first` is that read.
   */
  static async connect(address: string, timeoutMs = 1000): Promise<{ client: Firewalld; first: FirewalldState } | undefined> {
    const path = socketPath(address);
    if (path !== undefined && !existsSync(path)) return undefined;
    const bus = dbus.sessionBus({ busAddress: address });
    // A bus that refuses the connection reports it as an event; without a listener it would throw.
    onError(bus, () => undefined);
    const client = new Firewalld(bus);
    try {
      return { client, first: await withTimeout(client.read(), timeoutMs) };
    } catch {
      // No bus, no firewalld on it (ServiceUnknown), or it refused us: not managed.
    }
    client.close();
    return undefined;
  }

  close(): void {
    this.bus.disconnect();
  }

  private async call(path: string, iface: string, member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    const reply = await this.bus.call(new dbus.Message({ destination: FIREWALLD_NAME, path, interface: iface, member, signature, body }));
    return reply?.body ?? [];
  }

  private async strings(path: string, iface: string, member: string, signature = '', body: unknown[] = []): Promise<string[]> {
    const [value] = await this.call(path, iface, member, signature, body);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  }

  /** The permanent configuration object of a zone or policy; undefined when there is none. */
  private async configObject(kind: 'Zone' | 'Policy', name: string): Promise<string | undefined> {
    try {
      const [path] = await this.call(CONFIG_PATH, IFACE_CONFIG, `get${kind}ByName`, 's', [name]);
      return typeof path === 'string' ? path : undefined;
    } catch (err) {
      // INVALID_ZONE / INVALID_POLICY: not there.
      if (err instanceof dbus.DBusError && /INVALID_(ZONE|POLICY)/.test(`${err.type} ${err.text}`)) return undefined;
      throw err;
    }
  }

  /** The last read, valid until firewalld signals anything (the generation counts signals). */
  private cached: FirewalldState | undefined;
  private generation = 0;
  private watching: Promise<unknown> | undefined;

  /** Every signal of firewalld (and its name changing owner) invalidates the cached read. */
  private watchChanges(): void {
    if (this.watching) return;
    this.bus.on('message', (msg: dbus.Message) => {
      if (msg.type === dbus.MessageType.SIGNAL) {
        this.generation++;
        this.cached = undefined;
      }
    });
    this.watching = Promise.all(
      [
        `type='signal',sender='${FIREWALLD_NAME}'`,
        `type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='${FIREWALLD_NAME}'`,
      ].map((rule) => this.addMatch(rule)),
    ).then(
      () => void (this.watched = true),
      () => undefined,
    );
  }
  private watched = false;

  private addMatch(rule: string): Promise<unknown> {
    return this.bus.call(
      new dbus.Message({
        destination: 'org.freedesktop.DBus',
        path: '/org/freedesktop/DBus',
        interface: 'org.freedesktop.DBus',
        member: 'AddMatch',
        signature: 's',
        body: [rule],
      }),
    );
  }

  /**
   * What firewalld has of nftbridge's, runtime and permanent. A long-lived Host (watch, a library
   * user) reads it once and again only after firewalld signalled a change; a read is two rounds of
   * calls sent together (firewalld answers one call at a time, slowly: each round trip counts).
   */
  async read(): Promise<FirewalldState> {
    if (this.cached) return this.cached;
    // The match rules go out with the read, not before it; only a read that began while they were
    // in force may be kept (a change during an earlier one could go unseen).
    const watched = this.watched;
    this.watchChanges();
    const generation = this.generation;
    const state = await this.readNow();
    if (watched && generation === this.generation) this.cached = state;
    return state;
  }

  private async readNow(): Promise<FirewalldState> {
    const [active, policies, zonePath, policyPath] = await Promise.all([
      this.call(PATH, IFACE_ZONE, 'getActiveZones'),
      this.strings(PATH, IFACE_POLICY, 'getPolicies'),
      this.configObject('Zone', ZONE),
      this.configObject('Policy', POLICY),
    ]);
    // Active zones: { zone: { interfaces: [...], sources: [...] } }. A zone with no interfaces is
    // not active, so whether it exists at runtime is asked only then.
    const zones = (active[0] ?? {}) as Record<string, { interfaces?: unknown }>;
    const runtimeInterfaces = Array.isArray(zones[ZONE]?.interfaces)
      ? (zones[ZONE].interfaces as unknown[]).filter((v): v is string => typeof v === 'string')
      : [];
    const [runtimeZone, permanentInterfaces] = await Promise.all([
      runtimeInterfaces.length > 0 ? true : this.strings(PATH, IFACE_ZONE, 'getZones').then((z) => z.includes(ZONE)),
      zonePath ? this.strings(zonePath, IFACE_CONFIG_ZONE, 'getInterfaces') : Promise.resolve([]),
    ]);
    return {
      runtime: { zone: runtimeZone, policy: policies.includes(POLICY), interfaces: runtimeInterfaces },
      permanent: { zone: zonePath !== undefined, policy: policyPath !== undefined, interfaces: permanentInterfaces },
    };
  }

  /**
   * Makes firewalld hold exactly `bridges` in nftbridge's zone, runtime and permanent. A zone or
   * policy that must be created is created permanently and loaded with one reload (firewalld makes
   * zones only that way); interfaces change at runtime without a reload. Returns what changed.
   */
  async ensure(bridges: readonly string[], seen?: FirewalldState): Promise<string[]> {
    const changes: string[] = [];
    let state = seen ?? (await this.readNow());
    if (complete(state, bridges)) return changes;
    // Only a change makes the cached read stale (firewalld's signals do the rest).
    this.cached = undefined;
    if (!state.permanent.zone) {
      await this.call(CONFIG_PATH, IFACE_CONFIG, 'addZone2', 'sa{sv}', [
        ZONE,
        {
          short: new dbus.Variant('s', 'nftbridge'),
          description: new dbus.Variant('s', "nftbridge's bridges; container-to-host traffic is governed by this zone"),
          target: new dbus.Variant('s', 'default'),
          interfaces: new dbus.Variant('as', [...bridges]),
        },
      ]);
      changes.push(`permanent zone ${ZONE}`);
    }
    if (!state.permanent.policy) {
      await this.call(CONFIG_PATH, IFACE_CONFIG, 'addPolicy', 'sa{sv}', [
        POLICY,
        {
          short: new dbus.Variant('s', 'nftbridge forwarding'),
          description: new dbus.Variant('s', "What nftbridge's own forward chain accepted; its drops stay final"),
          target: new dbus.Variant('s', 'ACCEPT'),
          ingress_zones: new dbus.Variant('as', [ZONE]),
          egress_zones: new dbus.Variant('as', ['ANY']),
        },
      ]);
      changes.push(`permanent policy ${POLICY}`);
    }
    if (changes.length > 0 || !state.runtime.zone || !state.runtime.policy) {
      await this.call(PATH, IFACE, 'reload');
      changes.push('reload');
      state = await this.readNow();
    }
    const zonePath = await this.configObject('Zone', ZONE);
    const want = new Set(bridges);
    if (zonePath) {
      for (const b of bridges)
        if (!state.permanent.interfaces.includes(b)) {
          await this.call(zonePath, IFACE_CONFIG_ZONE, 'addInterface', 's', [b]);
          changes.push(`permanent ${b}`);
        }
      for (const b of state.permanent.interfaces)
        if (!want.has(b)) {
          await this.call(zonePath, IFACE_CONFIG_ZONE, 'removeInterface', 's', [b]);
          changes.push(`permanent -${b}`);
        }
    }
    for (const b of bridges)
      if (!state.runtime.interfaces.includes(b)) {
        // changeZoneOfInterface also moves a bridge that firewalld put in the default zone.
        await this.call(PATH, IFACE_ZONE, 'changeZoneOfInterface', 'ss', [ZONE, b]);
        changes.push(`runtime ${b}`);
      }
    for (const b of state.runtime.interfaces)
      if (!want.has(b)) {
        await this.call(PATH, IFACE_ZONE, 'removeInterface', 'ss', [ZONE, b]);
        changes.push(`runtime -${b}`);
      }
    return changes;
  }

  /**
   * Removes the zone and the policy, permanent and runtime. firewalld drops a zone from its
   * runtime only on a reload, so one reload follows when something was removed.
   */
  async remove(): Promise<string[]> {
    this.cached = undefined;
    const state = await this.readNow();
    const changes: string[] = [];
    for (const b of state.runtime.interfaces) {
      await this.call(PATH, IFACE_ZONE, 'removeInterface', 'ss', [ZONE, b]);
      changes.push(`runtime -${b}`);
    }
    const policyPath = await this.configObject('Policy', POLICY);
    if (policyPath) {
      await this.call(policyPath, IFACE_CONFIG_POLICY, 'remove');
      changes.push(`permanent policy ${POLICY} removed`);
    }
    const zonePath = await this.configObject('Zone', ZONE);
    if (zonePath) {
      await this.call(zonePath, IFACE_CONFIG_ZONE, 'remove');
      changes.push(`permanent zone ${ZONE} removed`);
    }
    if (state.runtime.zone || state.runtime.policy) {
      await this.call(PATH, IFACE, 'reload');
      changes.push('reload');
    }
    return changes;
  }

  /** firewalld's `Reloaded` signal, and its name changing owner (a restart), as one stream. */
  events(): Observable<'reloaded' | 'restarted'> {
    return firewalldEvents(this.bus, (rule) => this.addMatch(rule));
  }
}
