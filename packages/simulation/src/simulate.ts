// A seeded convergence simulation, in two parts.
//
// Customers (@conflict OPTIMISTIC_CONCURRENCY): devices behave like DataStore at the protocol level: a
// first full sync, then delta syncs from the startedAt they stored, a local replica applied by _version
// (tombstones remove), an outbox that retries and resolves conflicts as DataStore's default handler does
// (retry the local change on the server's _version). Around them: direct-SQL writers (inserts, updates,
// hard deletes), transactions that commit late, devices offline for longer than the delta TTL, purges.
// At the end every outbox drains, every device syncs once more, and every replica must equal the server.
//
// Parts (MERGE, a @counter), when options.merge is given: see merge.ts. No device edit may be lost unless
// it is in versioning.conflicts, and every count must land exactly once.
import type { Sql } from '@datastore-pg/db';
import { models } from '@datastore-pg/schema/models';
import { modelResolver, toDataStoreError, type Item } from '@datastore-pg/versioning';
import { mergeSummary, simulateMerge, type MergeReport } from './merge';
import { random, randomUuid } from './random';

export interface SimulationOptions {
  sql: Sql;
  seed: number;
  devices: number;
  steps: number;
  /** Sync page size: small, so that syncs take many pages with writes in between. */
  pageSize?: number;
  /** The MERGE part (Parts), after the Customers part; left out when not given. */
  merge?: { devices: number; steps: number; lostAnswers?: number };
  log?: (line: string) => void;
}

export interface SimulationReport {
  seed: number;
  devices: number;
  steps: number;
  ops: { deviceCreates: number; deviceUpdates: number; deviceDeletes: number; sqlWrites: number; lateCommits: number; syncs: number; pages: number; purges: number; offlineSpells: number };
  conflicts: number;
  /** Delta syncs refused mid-way because they paged past their window's purge time, and started over. */
  restartedSyncs: number;
  /** Server rows a device ended up without, or with at another version; and rows a device kept that the server deleted. */
  missed: number;
  /** Device changes that never reached the server (dropped from an outbox for a reason other than a deleted item). */
  lost: number;
  /** Items one sync returned more than once. */
  duplicated: number;
  mismatches: string[];
  /** The MERGE part's report (its mismatches apart), when it ran. */
  merge?: MergeReport;
}

type Mutation = { kind: 'create' | 'update' | 'delete'; id: string; fields: Record<string, unknown>; attempts: number };

interface Device {
  name: string;
  replica: Map<string, Item>;
  lastSync: number;
  outbox: Mutation[];
  offlineUntil: number;
}

const MAX_CONFLICT_ATTEMPTS = 10; // DataStore's mutation processor gives up (and discards) after 10

export async function simulate(options: SimulationOptions): Promise<SimulationReport> {
  const { sql, seed } = options;
  const rand = random(seed);
  const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(rand() * items.length)];
  const chance = (p: number) => rand() < p;
  const pageSize = options.pageSize ?? 5;
  const resolver = modelResolver(models.Customer, {}, { connection: () => sql });
  const call = async (fieldName: string, args: Record<string, unknown>) =>
    (await resolver({ arguments: args, identity: null, info: { fieldName, parentTypeName: fieldName.startsWith('sync') ? 'Query' : 'Mutation' } })).data as any;

  // Short TTLs so that a run of seconds exercises base, delta and purge: a device offline for more than
  // a quarter of a second comes back to a base sync; the journal is purged behind it.
  await sql`update versioning.models set delta_sync_table_ttl = '500 milliseconds', base_table_ttl = '1 day' where base_table = 'customers'::regclass`;

  const report: SimulationReport = {
    seed, devices: options.devices, steps: options.steps,
    ops: { deviceCreates: 0, deviceUpdates: 0, deviceDeletes: 0, sqlWrites: 0, lateCommits: 0, syncs: 0, pages: 0, purges: 0, offlineSpells: 0 },
    restartedSyncs: 0,
    conflicts: 0, missed: 0, lost: 0, duplicated: 0, mismatches: [],
  };
  const devices: Device[] = Array.from({ length: options.devices }, (_, i) => ({ name: `device-${i}`, replica: new Map(), lastSync: 0, outbox: [], offlineUntil: 0 }));
  const late: { tx: Awaited<ReturnType<Sql['reserve']>>; commitAt: number }[] = [];
  const liveIds = async () => (await sql<{ id: string }[]>`select id::text from customers where not _deleted`).map((r) => r.id);
  let idPool: string[] = [];
  const online = (d: Device) => Date.now() >= d.offlineUntil;

  const applyRemote = (device: Device, item: Item) => {
    // DataStore leaves an item with local changes still in the outbox alone; the outbox wins first.
    if (device.outbox.some((m) => m.id === item.id)) return;
    const current = device.replica.get(item.id as string);
    if (!current || item._version >= current._version) device.replica.set(item.id as string, item);
  };

  const sync = async (device: Device, interleave: () => Promise<void>) => {
    report.ops.syncs++;
    const seen = new Set<string>();
    let nextToken: string | null = null;
    do {
      let page: { items: Item[]; nextToken: string | null; startedAt: number };
      try {
        page = await call('syncCustomers', { lastSync: device.lastSync, limit: pageSize, nextToken, filter: null });
      } catch (error) {
        // A delta sync that paged for too long (purge may reach its window): start it over, as a client does.
        if (nextToken === null || toDataStoreError(error).code !== 'InvalidNextToken') throw error;
        report.restartedSyncs++;
        nextToken = null;
        seen.clear();
        continue;
      }
      report.ops.pages++;
      for (const item of page.items) {
        if (seen.has(item.id as string)) report.duplicated++;
        seen.add(item.id as string);
        applyRemote(device, item);
      }
      nextToken = page.nextToken;
      if (nextToken === null) device.lastSync = page.startedAt;
      else await interleave(); // other writers act between two pages of one sync
    } while (nextToken !== null);
  };

  const push = async (device: Device): Promise<void> => {
    const mutation = device.outbox[0];
    if (!mutation) return;
    const local = device.replica.get(mutation.id);
    const version = local?._version;
    try {
      let result: Item;
      if (mutation.kind === 'create') result = await call('createCustomer', { input: { id: mutation.id, ...mutation.fields } });
      else if (mutation.kind === 'update') result = await call('updateCustomer', { input: { id: mutation.id, _version: version, ...mutation.fields }, condition: null });
      else result = await call('deleteCustomer', { input: { id: mutation.id, _version: version }, condition: null });
      device.outbox.shift();
      device.replica.set(mutation.id, result);
    } catch (error) {
      const failure = toDataStoreError(error);
      if (failure.code === 'ConflictUnhandled') {
        report.conflicts++;
        const server = failure.data as Item;
        mutation.attempts++;
        if (mutation.kind === 'create' || server._deleted || mutation.attempts > MAX_CONFLICT_ATTEMPTS) {
          // A create whose id exists converges on the server's item; a change to an item deleted
          // meanwhile is discarded in favour of the tombstone (the delete happened later).
          device.outbox.shift();
          device.replica.set(mutation.id, server);
          if (mutation.attempts > MAX_CONFLICT_ATTEMPTS) report.lost++;
        } else {
          // DataStore's default handler: the local change again, on the server's _version.
          device.replica.set(mutation.id, { ...server, ...(mutation.kind === 'update' ? mutation.fields : {}) } as Item);
        }
      } else if (failure.code !== 'Unavailable') {
        device.outbox.shift();
        report.lost++;
        report.mismatches.push(`${device.name} dropped ${mutation.kind} ${mutation.id}: ${failure.code} ${failure.message}`);
      }
    }
  };

  const localChange = (device: Device) => {
    const known = [...device.replica.values()].filter((i) => !i._deleted).map((i) => i.id as string);
    const id = pick(known);
    if (!id || chance(0.3)) {
      const newId = randomUuid(rand);
      device.outbox.push({ kind: 'create', id: newId, fields: { name: `${device.name} #${report.ops.deviceCreates}` }, attempts: 0 });
      device.replica.set(newId, { id: newId, name: 'pending', _version: 0, _deleted: false, _lastChangedAt: 0 } as Item);
      report.ops.deviceCreates++;
    } else if (chance(0.85)) {
      const fields = chance(0.5) ? { name: `edit ${Math.floor(rand() * 1e6)}` } : { phone: `+1555${String(Math.floor(rand() * 1e7)).padStart(7, '0')}` };
      device.outbox.push({ kind: 'update', id, fields, attempts: 0 });
      device.replica.set(id, { ...device.replica.get(id)!, ...fields });
      report.ops.deviceUpdates++;
    } else {
      device.outbox.push({ kind: 'delete', id, fields: {}, attempts: 0 });
      device.replica.set(id, { ...device.replica.get(id)!, _deleted: true });
      report.ops.deviceDeletes++;
    }
  };

  const sqlWrite = async () => {
    report.ops.sqlWrites++;
    const id = pick(idPool);
    const roll = rand();
    if (!id || roll < 0.4) await sql`insert into customers (name) values (${`erp ${report.ops.sqlWrites}`})`;
    else if (roll < 0.9) await sql`update customers set name = ${`erp edit ${report.ops.sqlWrites}`} where id = ${id} and not _deleted`;
    else await sql`delete from customers where id = ${id}`; // a hard delete: becomes a tombstone
  };

  const startLate = async (step: number) => {
    if (late.length >= 3) return;
    const tx = await sql.reserve();
    await tx`begin`;
    await tx`insert into customers (name) values (${`late ${step}`})`; // stamped now, visible at commit
    late.push({ tx, commitAt: step + 5 + Math.floor(rand() * 40) });
  };

  const commitDue = async (step: number) => {
    for (const entry of [...late]) {
      if (entry.commitAt > step) continue;
      await entry.tx`commit`;
      entry.tx.release();
      late.splice(late.indexOf(entry), 1);
      report.ops.lateCommits++;
    }
  };

  // Writers that act between the pages of a sync: the moments a naive cursor gets wrong.
  let step = 0;
  const interleave = async () => {
    if (chance(0.5)) await sqlWrite();
    if (chance(0.3)) await startLate(step);
    await commitDue(step);
  };

  for (step = 0; step < options.steps; step++) {
    if (step % 50 === 0) idPool = await liveIds();
    const device = pick(devices)!;
    const roll = rand();
    if (roll < 0.3) localChange(device);
    else if (roll < 0.55) {
      if (online(device)) await push(device);
    } else if (roll < 0.75) {
      if (online(device)) await sync(device, interleave);
    } else if (roll < 0.85) await sqlWrite();
    else if (roll < 0.9) await startLate(step);
    else if (roll < 0.93) {
      device.offlineUntil = Date.now() + 50 + Math.floor(rand() * 900); // often longer than the delta TTL
      report.ops.offlineSpells++;
    } else if (roll < 0.95) {
      await sql`call versioning.purge()`;
      report.ops.purges++;
    }
    await commitDue(step);
  }

  // The end: commit every late transaction, bring every device online, drain every outbox, sync once
  // more (twice: a device's own last push may land after its sync), and compare.
  await commitDue(Number.MAX_SAFE_INTEGER);
  for (const device of devices) {
    device.offlineUntil = 0;
    for (let guard = 0; device.outbox.length > 0 && guard < 100; guard++) await push(device);
  }
  for (const device of devices) {
    await sync(device, async () => undefined);
    await sync(device, async () => undefined);
  }
  const server = new Map((await sql<{ id: string; name: string; phone: string | null; _version: number; _deleted: boolean }[]>`
    select id::text, name, phone, _version, _deleted from customers`).map((r) => [r.id, r]));
  for (const device of devices) {
    for (const [id, row] of server) {
      const local = device.replica.get(id);
      if (row._deleted) {
        if (local && !local._deleted) {
          report.missed++;
          report.mismatches.push(`${device.name} still has ${id}, deleted on the server`);
        }
      } else if (!local || local._deleted || local._version !== row._version || local.name !== row.name || (local.phone ?? null) !== row.phone) {
        report.missed++;
        report.mismatches.push(`${device.name} has ${id} at ${local ? `v${local._version}` : 'nothing'}, the server at v${row._version}`);
      }
    }
    for (const [id, local] of device.replica) {
      if (!local._deleted && !server.has(id)) {
        report.missed++;
        report.mismatches.push(`${device.name} has ${id}, which the server never had`);
      }
    }
  }
  if (options.merge) {
    report.merge = await simulateMerge({ sql, seed, pageSize, ...options.merge });
  }
  options.log?.(summary(report));
  return report;
}

export function summary(r: SimulationReport): string {
  const o = r.ops;
  return [
    `seed ${r.seed}, ${r.devices} devices, ${r.steps} steps`,
    `ops: ${o.deviceCreates} creates, ${o.deviceUpdates} updates, ${o.deviceDeletes} deletes from devices; ${o.sqlWrites} SQL writes; ${o.lateCommits} late commits; ${o.syncs} syncs in ${o.pages} pages (${r.restartedSyncs} restarted); ${o.purges} purges; ${o.offlineSpells} offline spells`,
    `conflicts ${r.conflicts}, missed ${r.missed}, lost ${r.lost}, duplicated ${r.duplicated}`,
    ...(r.merge ? [mergeSummary(r.merge)] : []),
  ].join('\n');
}
