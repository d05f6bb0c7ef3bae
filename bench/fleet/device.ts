// A technician's device at the protocol level: the requests DataStore sends (design.md §2, §6), made to
// the real resolvers with the identity AppSync passes for a Cognito user, as the Lambdas receive them.
import { randomUUID } from 'node:crypto';
import type { Sql } from '@datastore-pg/db';
import { models } from '@datastore-pg/schema/models';
import { modelResolver, toDataStoreError, type Item, type RequestOutcome, type Resolver } from '@datastore-pg/versioning';
import { resolveConflict } from '../../services/work-order/resolve-conflict';

/** The models a technician's DataStore syncs: the shared catalogue, then their own work. */
export const SYNCED = ['Customer', 'Site', 'Asset', 'Part', 'WorkOrder', 'WorkLog'] as const;
export type SyncedModel = (typeof SYNCED)[number];
const OWN: ReadonlySet<SyncedModel> = new Set(['WorkOrder', 'WorkLog']);
/** DataStore's syncPageSize default. */
const PAGE = 1000;

/**
 * The edits a technician makes, with their shares (documented defaults, not measured from an app): work
 * on their orders (status, notes), time logged, a log corrected, now and then an order of their own.
 */
const EDITS = [
  { kind: 'updateWorkOrder', share: 0.45 },
  { kind: 'createWorkLog', share: 0.35 },
  { kind: 'updateWorkLog', share: 0.15 },
  { kind: 'createWorkOrder', share: 0.05 },
] as const;
export type EditKind = (typeof EDITS)[number]['kind'];
const STATUSES = ['IN_PROGRESS', 'ON_HOLD', 'IN_PROGRESS', 'COMPLETED', 'SCHEDULED'] as const;

export interface Device {
  username: string;
  identity: Record<string, unknown>;
  /** Per model, the startedAt of its last sync: the next delta sync's lastSync. */
  lastSync: Partial<Record<SyncedModel, number>>;
  /** The device's own work orders and logs, id -> the _version it holds. */
  orders: Map<string, number>;
  logs: Map<string, number>;
  /** Set while a subscribed device's changes are being followed: `${model}:${id}` -> the version written. */
  written?: Map<string, number>;
}

/** What a set of requests did, added up across a worker's lanes. */
export interface Tally {
  fullSyncs: number;
  deltaSyncs: number;
  mutations: number;
  /** Items and requests of full and of delta syncs. */
  fullItems: number;
  fullPages: number;
  deltaItems: number;
  deltaPages: number;
  /** Of the delta items, the device's own (work orders and logs); the rest is catalogue. */
  deltaOwnItems: number;
  /** How the server answered each sync page: full, delta or base (a delta too old for the journal). */
  modes: Record<string, number>;
  edits: Partial<Record<EditKind, number>>;
  /** Failed requests by error code, and the first message. */
  errors: Record<string, number>;
  firstError?: string;
}

export const emptyTally = (): Tally => ({
  fullSyncs: 0, deltaSyncs: 0, mutations: 0, fullItems: 0, fullPages: 0, deltaItems: 0, deltaPages: 0, deltaOwnItems: 0, modes: {}, edits: {}, errors: {},
});

/** A Cognito user as AppSync passes one to a direct Lambda resolver (the access token's claims). */
export function device(username: string): Device {
  const sub = `sub-${username}`;
  return {
    username,
    identity: { sub, username, groups: [], claims: { sub, 'cognito:username': username, origin_jti: `session-${username}` } },
    lastSync: {},
    orders: new Map(),
    logs: new Map(),
  };
}

export type Resolvers = Record<SyncedModel, Resolver>;

/** One resolver per model on the worker's pool, built as services/<model>/handler.ts builds its own. */
export function resolvers(sql: Sql): Resolvers {
  const options = { connection: () => sql };
  return Object.fromEntries(SYNCED.map((name) => [name, modelResolver(models[name], name === 'WorkOrder' ? { resolveConflict } : {}, options)])) as Resolvers;
}

export class DeviceActions {
  constructor(
    private readonly resolve: Resolvers,
    readonly tally: Tally,
    /** Sites a technician may create a work order at. */
    private readonly siteIds: readonly string[],
    private readonly random: () => number,
  ) {}

  /** Every model from lastSync 0: the daily full sync. */
  async fullSync(d: Device): Promise<void> {
    await this.attempt(async () => {
      for (const model of SYNCED) {
        const { items, pages, startedAt } = await this.syncModel(d, model, 0);
        this.tally.fullItems += items;
        this.tally.fullPages += pages;
        d.lastSync[model] = startedAt;
      }
      this.tally.fullSyncs++;
    });
  }

  /** Every model from the last sync's startedAt; keep: leave lastSync where it was (the same window again). */
  async deltaSync(d: Device, keep = false): Promise<void> {
    await this.attempt(async () => {
      for (const model of SYNCED) {
        const from = d.lastSync[model];
        if (from === undefined) throw new Error(`${d.username} has never synced ${model}: a delta sync needs a lastSync`);
        const { items, pages, startedAt } = await this.syncModel(d, model, from);
        this.tally.deltaItems += items;
        this.tally.deltaPages += pages;
        if (OWN.has(model)) this.tally.deltaOwnItems += items;
        if (!keep) d.lastSync[model] = startedAt;
      }
      this.tally.deltaSyncs++;
    });
  }

  private async syncModel(d: Device, model: SyncedModel, lastSync: number): Promise<{ items: number; pages: number; startedAt: number }> {
    let items = 0;
    let pages = 0;
    let nextToken: string | null = null;
    for (;;) {
      const outcome: RequestOutcome = {};
      const { data } = (await this.resolve[model](
        { arguments: { filter: null, limit: PAGE, nextToken, lastSync }, identity: d.identity, info: { fieldName: `sync${models[model].pluralName}`, parentTypeName: 'Query' } },
        outcome,
      )) as { data: { items: Item[]; nextToken: string | null; startedAt: number } };
      pages++;
      items += data.items.length;
      this.tally.modes[outcome.syncMode ?? 'unknown'] = (this.tally.modes[outcome.syncMode ?? 'unknown'] ?? 0) + 1;
      const held = model === 'WorkOrder' ? d.orders : model === 'WorkLog' ? d.logs : undefined;
      for (const item of held ? data.items : []) {
        if (item._deleted) held!.delete(item.id as string);
        else held!.set(item.id as string, item._version);
      }
      // The client keeps the last page's startedAt; every page of one sync carries the first's (§2).
      if (data.nextToken === null) return { items, pages, startedAt: data.startedAt };
      nextToken = data.nextToken;
    }
  }

  /** One edit, of a kind drawn by the shares above; an update is based on the version the device holds. */
  async edit(d: Device): Promise<void> {
    let draw = this.random();
    const drawn = EDITS.find((e) => (draw -= e.share) < 0)?.kind ?? 'updateWorkOrder';
    const pick = (held: Map<string, number>) => {
      const ids = [...held.keys()];
      return ids[Math.floor(this.random() * ids.length)];
    };
    const order = pick(d.orders);
    const log = pick(d.logs);
    const n = Math.floor(this.random() * 1000);
    // A device with no order yet makes one; with no log to correct, it logs time.
    const kind: EditKind = order === undefined ? 'createWorkOrder' : drawn === 'updateWorkLog' && log === undefined ? 'createWorkLog' : drawn;
    await this.attempt(async () => {
      switch (kind) {
        case 'updateWorkOrder':
          // Only the changed field, id and the version held (design.md §6).
          await this.mutate(d, 'WorkOrder', 'update', n % 2 === 0
            ? { id: order, _version: d.orders.get(order!), status: STATUSES[n % STATUSES.length] }
            : { id: order, _version: d.orders.get(order!), notes: `Visit ${n}: replaced the seal, tested at 4 bar` });
          break;
        case 'createWorkLog':
          await this.mutate(d, 'WorkLog', 'create', { id: randomUUID(), workOrderID: order, minutes: 15 + (n % 120), note: `Visit ${n}`, recordedAt: new Date().toISOString() });
          break;
        case 'updateWorkLog':
          await this.mutate(d, 'WorkLog', 'update', { id: log, _version: d.logs.get(log!), minutes: 20 + (n % 100) });
          break;
        case 'createWorkOrder':
          await this.mutate(d, 'WorkOrder', 'create', {
            id: randomUUID(), siteID: this.siteIds[n % this.siteIds.length], title: `Follow-up ${n}`, status: 'OPEN', priority: 'NORMAL',
          });
          break;
      }
      this.tally.mutations++;
      this.tally.edits[kind] = (this.tally.edits[kind] ?? 0) + 1;
    });
  }

  private async mutate(d: Device, model: 'WorkOrder' | 'WorkLog', operation: 'create' | 'update', input: Record<string, unknown>): Promise<void> {
    // As DataStore sends them (design.md §2): a create with no condition, an update with condition null.
    const args = operation === 'create' ? { input } : { input, condition: null };
    const { data } = (await this.resolve[model]({
      arguments: args, identity: d.identity, info: { fieldName: `${operation}${model}`, parentTypeName: 'Mutation' },
    })) as { data: Item };
    (model === 'WorkOrder' ? d.orders : d.logs).set(data.id as string, data._version);
    d.written?.set(`${model}:${String(data.id)}`, data._version);
  }

  /** A failed request is counted by its code (a conflict here would mean the device held a stale version). */
  private async attempt(request: () => Promise<void>): Promise<void> {
    try {
      await request();
    } catch (error) {
      const { code } = toDataStoreError(error);
      this.tally.errors[code] = (this.tally.errors[code] ?? 0) + 1;
      this.tally.firstError ??= `${code}: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
}
