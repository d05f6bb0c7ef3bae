// The MERGE part of the convergence simulation (issue 11, "No edit lost"). Devices, each a Cognito user
// of its own (so each is a writer of its own: writerOf), edit Parts (@conflict MERGE by default,
// quantityOnHand @counter) concurrently with each other and with direct-SQL writers, through an outbox
// that behaves as DataStore's does (design.md §6; aws-amplify's sync/outbox.ts and processors/mutation.ts):
//  - an update sends only the fields the user changed, and the _version of the device's record (its base);
//  - an edit of a record that already has a mutation waiting in the outbox is merged into it (later fields
//    win, the earlier _version kept); a mutation once sent (in progress) is never merged into;
//  - a mutation is in flight between its request and its answer, and the user keeps editing meanwhile;
//  - after an answer, the record's queued mutation takes the answer's _version only if every field sent
//    equals the answer (syncOutboxVersionsOnDequeue); the answer becomes the local record only when no
//    mutation of the record is left in the outbox, and a sync leaves such records alone too;
//  - a lost answer (the server applied the write, the device never heard) makes the device send the very
//    same body again, with the same (by then stale) _version;
//  - counts are relative for the user and absolute on the wire: the device adds d to its local value and
//    sends the result.
// SQL writers change descriptions and prices and add to counts (quantity_on_hand = quantity_on_hand + d).
// At the end every outbox drains and every device syncs, and:
//  - every replica equals the server;
//  - every part's count equals its initial count plus every change made to it, by devices and SQL, each
//    counted once (replays included);
//  - every value a device sent is in the part's history (it was applied) or in versioning.conflicts;
//  - every device mutation was applied exactly once, and each one that changed the count added exactly
//    the user's changes (read from the merge history: the count of the version it wrote minus the one
//    before).
// What DataStore's own rules cost is told apart from what the server gets wrong (report.client against
// report.failures), each case recognized precisely:
//  - a hand-off hazard: the client moved a queued mutation to the answer's _version while it had
//    computed its count from an older view of the record (the answer matched the fields sent, but others
//    had changed the count): the count lands off by exactly what the device had not seen;
//  - a skipped sync: a sync brought a change while the record's mutation was in flight, the client left
//    the record alone and its delta cursor moved past the change;
//  - a mutation with the very body and base of the device's previous one, which nothing tells apart from
//    a resend of it;
//  - an update queued while its record's create was in flight, left without a _version when the create's
//    answer did not match what it sent, and refused.
import type { Sql } from '@datastore-pg/db';
import { models } from '@datastore-pg/schema/models';
import { modelResolver, toDataStoreError, type Item } from '@datastore-pg/versioning';
import { random, randomUuid } from './random';

export interface MergeSimulationOptions {
  sql: Sql;
  seed: number;
  devices: number;
  steps: number;
  /** Sync page size. */
  pageSize?: number;
  /** Chance that a write's answer is lost: the server applied it, the device sends it again. */
  lostAnswers?: number;
  log?: (line: string) => void;
}

export interface MergeReport {
  seed: number;
  devices: number;
  steps: number;
  ops: {
    /** Parts created by devices, and by SQL (the initial ones included). */
    deviceCreates: number;
    sqlInserts: number;
    /** User edits on devices (each of one or two fields), of which counterChanges changed the count. */
    edits: number;
    counterChanges: number;
    /** Edits merged into a mutation already waiting in the outbox. */
    outboxMerges: number;
    /** Mutations sent, requests made (resends included), answers lost. */
    mutations: number;
    requests: number;
    lostAnswers: number;
    /** Queued mutations that took the _version of their record's answer. */
    handOffs: number;
    sqlEdits: number;
    sqlCounterChanges: number;
    syncs: number;
    pages: number;
    offlineSpells: number;
  };
  /** Device writes the server merged: based on a version older than the server's (merge history). */
  merges: number;
  /** Resends the server recognized as already applied (answered without writing). */
  replays: number;
  /** Values the merges overwrote or refused (versioning.conflicts, for this run's parts). */
  conflictsLogged: number;
  /** Log entries whose lost value the same device had written itself, earlier (noise, not a loss). */
  selfLogged: number;
  /** What the server got wrong: each must be 0. */
  failures: {
    /** Replicas unlike the server at the end (beyond what client.skippedSyncs explains). */
    diverged: number;
    /** Parts whose final count is not their initial count plus every change once (beyond what the client rules explain). */
    miscounted: number;
    /** Device mutations the server never applied, or applied twice. */
    unapplied: number;
    appliedTwice: number;
    /** Device values neither in their part's history nor in versioning.conflicts; or applied, overwritten in the same write, and not logged. */
    lostEdits: number;
    /** Device mutations that added to the count something else than the user's changes (beyond what client.handOffMiscounts explains). */
    wrongCounts: number;
    /** Device mutations answered with an error (DataStore hands them to errorHandler and drops them), beyond client.withoutVersion. */
    refused: number;
  };
  /** What DataStore's own rules cost, told apart from the server's failures. */
  client: {
    /** Hand-offs that put a queued mutation on a version whose count the device had not seen. */
    handOffHazards: number;
    /** Mutations whose count change landed wrong by exactly that. */
    handOffMiscounts: number;
    /** Replicas left behind: a sync skipped the record while its mutation was in flight, and the delta cursor moved past the change. */
    skippedSyncs: number;
    /** Mutations with the very body and base of the device's previous one: indistinguishable from a resend, taken for one. */
    takenForResends: number;
    /** Updates queued before their record's create was answered, left with no _version by the hand-off rule, refused (ValidationError). */
    withoutVersion: number;
  };
  mismatches: string[];
}

interface Mutation {
  seq: number;
  device: Device;
  kind: 'create' | 'update';
  id: string;
  /** The _version in its data: the base. 0: none (a record whose create has not been answered yet). */
  version: number;
  fields: Record<string, unknown>;
  /** The user's count changes merged into it (for a create: its whole count). */
  counterDelta: number;
  inProgress: boolean;
  /** Every answer the server gave it, the lost ones included. */
  answers: Item[];
  /** At its hand-off: the answer's count minus the count the device had seen (0: no hazard). */
  handOffLoss: number;
  handedOff: boolean;
  /** Refused with an error and dropped from the outbox. */
  dropped: boolean;
  /** The device's mutation of the same record before this one. */
  previous: Mutation | undefined;
}

interface Device {
  index: number;
  name: string;
  identity: Record<string, unknown>;
  writer: string;
  replica: Map<string, Item>;
  outbox: Mutation[];
  /** The answer to the outbox's head, on its way. */
  answer: Item | null;
  lastSync: number;
  offlineUntil: number;
  /** The part the user edited last. */
  focus?: string;
  /** The last mutation of each record. */
  last: Map<string, Mutation>;
  /** The newest version of each record a sync brought while the record had a mutation in the outbox (and so left alone). */
  skipped: Map<string, number>;
}

const COLUMNS = { sku: 'sku', description: 'description', quantityOnHand: 'quantity_on_hand', unitPrice: 'unit_price' } as const;
type Field = keyof typeof COLUMNS;
const FIELDS = Object.keys(COLUMNS) as Field[];

export async function simulateMerge(options: MergeSimulationOptions): Promise<MergeReport> {
  const { sql, seed } = options;
  const rand = random(seed);
  const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(rand() * items.length)];
  const chance = (p: number) => rand() < p;
  const pageSize = options.pageSize ?? 5;
  const lostAnswers = options.lostAnswers ?? 0.1;
  const resolver = modelResolver(models.Part, {}, { connection: () => sql });
  const call = async (device: Device, fieldName: string, args: Record<string, unknown>) =>
    (await resolver({ arguments: args, identity: device.identity, info: { fieldName, parentTypeName: fieldName.startsWith('sync') ? 'Query' : 'Mutation' } })).data as any;

  const report: MergeReport = {
    seed, devices: options.devices, steps: options.steps,
    ops: {
      deviceCreates: 0, sqlInserts: 0, edits: 0, counterChanges: 0, outboxMerges: 0, mutations: 0, requests: 0, lostAnswers: 0, handOffs: 0,
      sqlEdits: 0, sqlCounterChanges: 0, syncs: 0, pages: 0, offlineSpells: 0,
    },
    merges: 0, replays: 0, conflictsLogged: 0, selfLogged: 0,
    failures: { diverged: 0, miscounted: 0, unapplied: 0, appliedTwice: 0, lostEdits: 0, wrongCounts: 0, refused: 0 },
    client: { handOffHazards: 0, handOffMiscounts: 0, skippedSyncs: 0, takenForResends: 0, withoutVersion: 0 },
    mismatches: [],
  };
  // A database used before (the CLI on DATABASE_URL) already holds parts: skus and device-made ids of
  // this run must not collide with theirs. On a fresh database the tag is 0 and the run is the seed's.
  const tag = (await sql<{ tag: number }[]>`select count(*)::int as tag from parts`)[0]!.tag;
  const newId = (() => {
    const ids = random(seed ^ 0x5eed ^ tag);
    return () => randomUuid(ids);
  })();
  let serial = 0; // makes every value written unique, so that the history tells whose it is
  const unique = () => ++serial;
  const price = () => (10_000 + unique()) / 100;

  const devices: Device[] = Array.from({ length: options.devices }, (_, index) => {
    const name = `device-${index}`;
    const sub = `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
    return {
      index, name, writer: `user:${name}`, replica: new Map(), outbox: [], answer: null, lastSync: 0, offlineUntil: 0, last: new Map(), skipped: new Map(),
      identity: { sub, username: name, groups: [], claims: { sub, 'cognito:username': name, 'cognito:groups': [], token_use: 'access' } },
    };
  });
  const mutations: Mutation[] = [];
  /** The parts of this run, in the order they were made, and the count changes SQL made to each (with the initial count of an SQL insert). */
  const runParts = new Set<string>();
  const expected = new Map<string, number>();
  let serverIds: string[] = [];

  const sqlInsert = async () => {
    const quantity = Math.floor(rand() * 50);
    // The id from the seeded generator (the column's default is random): syncs page in id order, and
    // that order must be the same on every run of a seed.
    const id = newId();
    await sql`
      insert into parts (_datastore_uuid, sku, description, quantity_on_hand, unit_price)
      values (${id}, ${`SIM${tag}-S${unique()}`}, ${`erp part ${unique()}`}, ${quantity}, ${price()})`;
    wrote();
    runParts.add(id);
    expected.set(id, quantity);
    serverIds.push(id);
    report.ops.sqlInserts++;
  };

  const sqlWrite = async () => {
    const id = pick(serverIds);
    if (!id) return;
    const roll = rand();
    if (roll < 0.5) {
      const d = delta();
      await sql`update parts set quantity_on_hand = quantity_on_hand + ${d} where _datastore_uuid = ${id}`;
      wrote();
      expected.set(id, (expected.get(id) ?? 0) + d);
      report.ops.sqlCounterChanges++;
    } else if (roll < 0.75) {
      await sql`update parts set description = ${`erp ${unique()}`} where _datastore_uuid = ${id}`;
      wrote();
      report.ops.sqlEdits++;
    } else {
      await sql`update parts set unit_price = ${price()} where _datastore_uuid = ${id}`;
      wrote();
      report.ops.sqlEdits++;
    }
  };
  const delta = () => (chance(0.5) ? -1 : 1) * (1 + Math.floor(rand() * 3));

  const applyRemote = (device: Device, item: Item) => {
    // DataStore leaves a record with a mutation in the outbox (in progress or queued) alone.
    if (device.outbox.some((m) => m.id === item.id)) {
      device.skipped.set(item.id as string, Math.max(item._version, device.skipped.get(item.id as string) ?? 0));
      return;
    }
    const current = device.replica.get(item.id as string);
    if (!current || item._version >= current._version) device.replica.set(item.id as string, item);
  };

  // A sync's window ends 1 ms before it starts (versioning.sync_watermark): a write made in the same
  // millisecond would reach this sync or the next one depending on the clock. Waiting out that
  // millisecond keeps what each sync returns, and so the whole run, the seed's.
  let lastWrite = 0;
  const wrote = () => {
    lastWrite = Date.now();
  };
  const sync = async (device: Device, interleave: () => Promise<void>) => {
    while (Date.now() <= lastWrite + 1) await new Promise((resolve) => setTimeout(resolve, 1));
    report.ops.syncs++;
    let nextToken: string | null = null;
    do {
      const page = await call(device, 'syncParts', { lastSync: device.lastSync, limit: pageSize, nextToken, filter: null }) as { items: Item[]; nextToken: string | null; startedAt: number };
      report.ops.pages++;
      for (const item of page.items) applyRemote(device, item);
      nextToken = page.nextToken;
      if (nextToken === null) device.lastSync = page.startedAt;
      else await interleave();
    } while (nextToken !== null);
  };

  /** Outbox.enqueue: merged into the record's queued mutation (not the one in progress), or appended. */
  const enqueue = (device: Device, item: Item, change: Record<string, unknown>, counterDelta: number) => {
    const id = item.id as string;
    const queued = device.outbox.find((m) => m.id === id && !m.inProgress);
    if (queued) {
      queued.fields = { ...queued.fields, ...change };
      queued.counterDelta += counterDelta;
      report.ops.outboxMerges++;
      // An update merged into an update is saved as a new mutation event: it moves to the back.
      if (queued.kind === 'update') device.outbox.push(...device.outbox.splice(device.outbox.indexOf(queued), 1));
      return;
    }
    device.outbox.push(newMutation(device, 'update', id, item._version, change, counterDelta));
  };
  const newMutation = (device: Device, kind: Mutation['kind'], id: string, version: number, fields: Record<string, unknown>, counterDelta: number): Mutation => {
    const mutation: Mutation = {
      seq: mutations.length, device, kind, id, version, fields, counterDelta, inProgress: false, answers: [], handOffLoss: 0, handedOff: false,
      dropped: false, previous: device.last.get(id),
    };
    device.last.set(id, mutation);
    mutations.push(mutation);
    return mutation;
  };

  const localEdit = (device: Device) => {
    const live = [...device.replica.values()].filter((i) => !i._deleted);
    if (live.length === 0 || chance(0.02)) {
      const id = newId();
      const quantity = Math.floor(rand() * 50);
      const fields = { sku: `SIM${tag}-D${unique()}`, description: `${device.name} new ${unique()}`, quantityOnHand: quantity, unitPrice: price() };
      device.outbox.push(newMutation(device, 'create', id, 0, fields, quantity));
      runParts.add(id);
      device.replica.set(id, { id, ...fields, _version: 0, _deleted: false, _lastChangedAt: 0 } as Item);
      report.ops.deviceCreates++;
      return;
    }
    // A user mostly keeps at the part they were at (counting a shelf): edits pile up on one record,
    // while its last mutation is still in flight.
    const focused = device.focus && device.replica.get(device.focus);
    const item = focused && !focused._deleted && chance(0.7) ? focused : pick(live)!;
    device.focus = item.id as string;
    const change: Record<string, unknown> = {};
    let d = 0;
    const roll = rand();
    if (roll < 0.45 || roll >= 0.85) {
      d = delta();
      change.quantityOnHand = (item.quantityOnHand as number) + d;
      report.ops.counterChanges++;
    }
    if ((roll >= 0.45 && roll < 0.65) || (roll >= 0.85 && chance(0.5))) change.description = `${device.name} ${unique()}`;
    else if (roll >= 0.65) change.unitPrice = price();
    report.ops.edits++;
    device.replica.set(item.id as string, { ...item, ...change });
    enqueue(device, item, change, d);
  };

  const push = async (device: Device): Promise<void> => {
    const head = device.outbox[0];
    if (!head) return;
    if (device.answer) {
      const answer = device.answer;
      device.answer = null;
      dequeue(device, head, answer);
      return;
    }
    if (!head.inProgress) report.ops.mutations++;
    head.inProgress = true; // Outbox.peek
    report.ops.requests++;
    try {
      const input = { id: head.id, ...head.fields, ...(head.kind === 'update' && head.version > 0 ? { _version: head.version } : {}) };
      const answer = await call(device, `${head.kind}Part`, head.kind === 'create' ? { input } : { input, condition: null }) as Item;
      wrote();
      head.answers.push(answer);
      if (chance(lostAnswers)) report.ops.lostAnswers++; // it stays in progress: sent again, the same body
      else device.answer = answer;
    } catch (error) {
      const failure = toDataStoreError(error);
      if (failure.code === 'Unavailable') return; // nothing changed; sent again
      // MERGE answers no ConflictUnhandled to an update, and a create of a new id has none either: any
      // error here goes to errorHandler, and DataStore drops the mutation (design.md §6).
      device.outbox.shift();
      head.dropped = true;
      // An update queued while its record's create was in flight, whose answer did not match what the
      // create sent (a replayed create answers the item as others changed it since), never got a _version.
      const withoutVersion = head.kind === 'update' && head.version === 0 && failure.code === 'ValidationError';
      if (withoutVersion) report.client.withoutVersion++;
      else report.failures.refused++;
      report.mismatches.push(`${withoutVersion ? '(client) ' : ''}${describe(head)} was refused: ${failure.code} ${failure.message}`);
      if (failure.code === 'ConflictUnhandled' && !device.outbox.some((m) => m.id === head.id)) device.replica.set(head.id, failure.data as Item);
    }
  };

  /** Outbox.dequeue with syncOutboxVersionsOnDequeue, then ModelMerger.merge of the answer. */
  const dequeue = (device: Device, head: Mutation, answer: Item) => {
    device.outbox.shift();
    const sentMatches = Object.entries({ id: head.id, ...head.fields }).every(([name, value]) => (value ?? null) === (answer[name] ?? null));
    if (sentMatches) {
      for (const queued of device.outbox) {
        if (queued.id !== head.id) continue;
        // The count the device computed the queued mutation's count from, against the answer's.
        const seen = (device.replica.get(head.id)!.quantityOnHand as number) - queued.counterDelta;
        queued.version = answer._version;
        queued.handedOff = true;
        queued.handOffLoss = (answer.quantityOnHand as number) - seen;
        report.ops.handOffs++;
        if (queued.handOffLoss !== 0) report.client.handOffHazards++;
      }
    }
    if (!device.outbox.some((m) => m.id === head.id)) device.replica.set(head.id, answer);
  };

  const interleave = async () => {
    if (chance(0.3)) await sqlWrite();
  };

  // The start: a few parts from the ERP, every device synced once.
  for (let i = 0; i < Math.max(3, Math.ceil(options.devices / 2)); i++) await sqlInsert();
  for (const device of devices) await sync(device, async () => undefined);

  for (let step = 0; step < options.steps; step++) {
    if (step % 25 === 0) {
      const onServer = new Set((await sql<{ id: string }[]>`select _datastore_uuid::text as id from parts where _datastore_uuid::text = any(${[...runParts]})`).map((r) => r.id));
      serverIds = [...runParts].filter((id) => onServer.has(id));
    }
    const device = pick(devices)!;
    const online = step >= device.offlineUntil;
    const roll = rand();
    if (roll < 0.35) localEdit(device);
    else if (roll < 0.65) {
      if (online) await push(device);
    } else if (roll < 0.74) {
      if (online) await sync(device, interleave);
    } else if (roll < 0.93) await sqlWrite();
    else if (roll < 0.95) {
      device.offlineUntil = step + 20 + Math.floor(rand() * 200);
      report.ops.offlineSpells++;
    } else if (roll < 0.955) await sqlInsert();
  }

  // The end: every device online, every outbox drained (answers still get lost), two syncs each.
  for (const device of devices) {
    device.offlineUntil = 0;
    for (let guard = 0; (device.outbox.length > 0 || device.answer) && guard < 10_000; guard++) await push(device);
    if (device.outbox.length > 0) report.mismatches.push(`${device.name}'s outbox did not drain`);
  }
  for (const device of devices) {
    await sync(device, async () => undefined);
    await sync(device, async () => undefined);
  }

  await check(sql, report, devices, mutations, runParts, expected);
  options.log?.(mergeSummary(report));
  return report;
}

interface HistoryRow { id: string; version: number; changed: Record<string, unknown>; writer: string | null; base: number | null; sent: Record<string, unknown> | null }
interface ConflictRow { item_id: string; field: string; reason: string; kept: string; lost_value: unknown; writer: string | null; new_version: number | null }

async function check(sql: Sql, report: MergeReport, devices: Device[], mutations: Mutation[], runParts: ReadonlySet<string>, expected: Map<string, number>): Promise<void> {
  const { failures, client } = report;
  const fail = (line: string) => report.mismatches.push(line);
  const rows = await sql<{ id: string; sku: string; description: string; quantity_on_hand: number; unit_price: string | null; _version: number; _deleted: boolean }[]>`
    select _datastore_uuid::text as id, sku, description, quantity_on_hand, unit_price, _version, _deleted from parts`;
  const server = new Map(rows.map((r) => [r.id, r]));
  const history = await sql<HistoryRow[]>`
    select id, _version::int as version, changed, writer, base_version::int as base, sent
      from versioning_merge.parts where id = any(${[...runParts]}) order by id, _version`;
  const conflicts = await sql<ConflictRow[]>`
    select item_id, field, reason, kept, lost_value, writer, new_version::int as new_version
      from versioning.conflicts where base_table = 'parts'::regclass and item_id = any(${[...runParts]}) order by id`;
  report.conflictsLogged = conflicts.length;
  report.merges = history.filter((h) => h.writer !== null && h.base !== null && h.base > 0 && h.base !== h.version - 1).length;
  const versionRow = new Map(history.map((h) => [`${h.id}@${h.version}`, h]));
  const value = (field: Field, v: unknown) => (v === null || v === undefined ? null : field === 'unitPrice' || field === 'quantityOnHand' ? Number(v) : v);

  // 1. Every replica equals the server.
  for (const device of devices) {
    for (const [id, row] of server) {
      const local = device.replica.get(id);
      const differs = !local || local._deleted !== row._deleted || local._version !== row._version
        || FIELDS.some((f) => value(f, local[f]) !== value(f, row[COLUMNS[f]]));
      if (!differs) continue;
      if (local && local._version < row._version && (device.skipped.get(id) ?? 0) >= row._version) {
        client.skippedSyncs++;
        fail(`(client) ${device.name} has part ${id} at v${local._version}: a sync brought v${row._version} while the part's mutation was in flight, and the next sync starts after it`);
      } else {
        failures.diverged++;
        fail(`${device.name} has part ${id} ${local ? `at v${local._version}` : 'not at all'}, the server at v${row._version}`);
      }
    }
  }

  // Each part's values at each of its versions: back from the current row through what each version changed.
  const valuesAt = new Map<string, Map<number, Record<Field, unknown>>>();
  for (const id of runParts) {
    const row = server.get(id);
    if (!row) continue;
    const versions = new Map<number, Record<Field, unknown>>();
    let current = Object.fromEntries(FIELDS.map((f) => [f, value(f, row[COLUMNS[f]])])) as Record<Field, unknown>;
    versions.set(row._version, current);
    for (let v = row._version; v > 1; v--) {
      const changed = versionRow.get(`${id}@${v}`)?.changed ?? {};
      current = { ...current };
      for (const f of FIELDS) if (COLUMNS[f] in changed) current[f] = value(f, changed[COLUMNS[f]]);
      versions.set(v - 1, current);
    }
    valuesAt.set(id, versions);
  }
  const logged = (m: Mutation, field: Field, v: unknown) =>
    conflicts.some((c) => c.item_id === m.id && c.field === field && c.writer === m.device.writer && value(field, c.lost_value) === value(field, v));
  const story = (m: Mutation, from: number, to: number) => history.filter((h) => h.id === m.id && h.version > from && h.version <= to)
    .map((h) => `v${h.version} ${h.writer ?? 'SQL'}${h.base === null ? '' : ` on v${h.base}`} ${JSON.stringify(h.sent ?? {})} q=${valuesAt.get(m.id)?.get(h.version)?.quantityOnHand}`).join('; ');

  // 2. Each device mutation: applied exactly once (its resends recognized), each of its values applied
  // or logged, its count change exactly the user's.
  const claimed = new Set<string>();
  /** Per part: how far off the client's own rules put its count. */
  const explainedOff = new Map<string, number>();
  const explain = (id: string, off: number) => explainedOff.set(id, (explainedOff.get(id) ?? 0) + off);
  const sentByWriter = new Set<string>();
  for (const m of mutations) {
    if (m.dropped) {
      explain(m.id, -m.counterDelta); // its changes never reached the server (reported where it was refused)
      continue;
    }
    const base = m.kind === 'create' ? 0 : m.version;
    const sent = canonical(m.fields);
    const applied: number[] = [];
    for (const answer of m.answers) {
      const key = `${m.id}@${answer._version}`;
      const h = versionRow.get(key);
      if (h && !claimed.has(key) && h.writer === m.device.writer && h.base === base && canonical(h.sent) === sent) {
        claimed.add(key);
        applied.push(answer._version);
      }
    }
    report.replays += m.answers.length - applied.length;
    const versions = valuesAt.get(m.id);
    for (const [name, v] of Object.entries(m.fields)) {
      const field = name as Field;
      sentByWriter.add(`${m.device.writer}|${m.id}|${field}|${canonical(value(field, v))}`);
      if (field === 'quantityOnHand') continue;
      // The issue's check: the value is in the part's history, or in the log.
      const inHistory = versions && [...versions.values()].some((at) => at[field] === value(field, v));
      if (!inHistory && !logged(m, field, v)) {
        failures.lostEdits++;
        fail(`${describe(m)}: its ${field} is neither in the part's history nor in the log`);
      }
    }
    if (applied.length !== 1) {
      const previous = m.previous;
      if (applied.length === 0 && m.counterDelta === 0 && previous && previous.kind === 'update' && previous.version === m.version && canonical(previous.fields) === sent) {
        // Nothing tells it from a resend of the previous one (no idempotency key, design.md §6).
        client.takenForResends++;
        continue;
      }
      if (applied.length === 0) failures.unapplied++;
      else failures.appliedTwice++;
      fail(`${describe(m)} was applied ${applied.length} times (answered at ${m.answers.map((a) => `v${a._version}`).join(', ')}); since its base: ${story(m, base, Math.max(...m.answers.map((a) => a._version)))}`);
      continue;
    }
    const at = applied[0]!;
    const now = versions?.get(at);
    for (const [name, v] of Object.entries(m.fields)) {
      const field = name as Field;
      if (field === 'quantityOnHand' || !now || now[field] === value(field, v) || logged(m, field, v)) continue;
      failures.lostEdits++;
      fail(`${describe(m)} wrote v${at}, where ${field} is ${JSON.stringify(now[field])}, and nothing is logged`);
    }
    if ('quantityOnHand' in m.fields && now) {
      const before = at > 1 ? (versions!.get(at - 1)!.quantityOnHand as number) : 0;
      const added = (now.quantityOnHand as number) - before;
      if (added === m.counterDelta) continue;
      if (m.handOffLoss !== 0 && added - m.counterDelta === -m.handOffLoss) {
        client.handOffMiscounts++;
        explain(m.id, added - m.counterDelta);
      } else {
        failures.wrongCounts++;
        fail(`${describe(m)} wrote v${at} adding ${added} to the count, the user's changes add ${m.counterDelta}; since its base: ${story(m, base, at)}`);
      }
    }
  }
  report.selfLogged = conflicts.filter((c) => c.writer !== null && sentByWriter.has(`${c.writer}|${c.item_id}|${c.field}|${canonical(value(c.field as Field, c.lost_value))}`)).length;

  // 3. Every count: as created, plus every change by devices and SQL, once.
  for (const m of mutations) expected.set(m.id, (expected.get(m.id) ?? 0) + m.counterDelta);
  for (const id of runParts) {
    const count = expected.get(id)!;
    const row = server.get(id);
    const off = row ? row.quantity_on_hand - count : NaN;
    if (off !== (explainedOff.get(id) ?? 0)) {
      failures.miscounted++;
      fail(`part ${id} counts ${row?.quantity_on_hand ?? 'nothing'}, expected ${count} (${off > 0 ? '+' : ''}${off}${explainedOff.get(id) ? `, of which ${explainedOff.get(id)} explained by DataStore's rules` : ''})`);
    }
  }
}

function describe(m: Mutation): string {
  const body = { id: m.id, ...m.fields, ...(m.kind === 'update' ? { _version: m.version } : {}) };
  return `${m.device.name}'s mutation #${m.seq} (${m.kind}Part ${JSON.stringify(body)}${m.handedOff ? ', version handed off' : ''})`;
}

/** JSON with object keys sorted, numbers as numbers: equal bodies give equal text. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v);
}

export function mergeSummary(r: MergeReport): string {
  const { ops: o, failures: f, client: c } = r;
  return [
    `MERGE (Part): seed ${r.seed}, ${r.devices} devices, ${r.steps} steps`,
    `ops: ${o.edits} device edits (${o.counterChanges} count changes; ${o.outboxMerges} merged into a queued mutation), ${o.deviceCreates} device creates; ${o.mutations} mutations in ${o.requests} requests (${o.lostAnswers} answers lost); ${o.handOffs} hand-offs; SQL: ${o.sqlInserts} inserts, ${o.sqlEdits} edits, ${o.sqlCounterChanges} count changes; ${o.syncs} syncs in ${o.pages} pages; ${o.offlineSpells} offline spells`,
    `server: ${r.merges} merges, ${r.replays} replays recognized, ${r.conflictsLogged} conflicts logged (${r.selfLogged} of a device's own earlier value)`,
    `failures: diverged ${f.diverged}, miscounted ${f.miscounted}, unapplied ${f.unapplied}, applied twice ${f.appliedTwice}, lost edits ${f.lostEdits}, wrong counts ${f.wrongCounts}, refused ${f.refused}`,
    `DataStore's own rules: ${c.handOffHazards} hand-off hazards (${c.handOffMiscounts} counts off by them), ${c.skippedSyncs} replicas behind a skipped sync, ${c.takenForResends} mutations taken for resends, ${c.withoutVersion} updates without _version`,
  ].join('\n');
}
